"""The direct socket protocol's slim stand-ins for uvicorn's receive queue and writable event."""

from __future__ import annotations

import asyncio

import pytest

from marketpulse_gateway.stream.direct_socket import _Flag, _Inbox


async def test_inbox_hands_messages_over_in_order_and_wakes_its_reader() -> None:
    inbox = _Inbox()
    inbox.put_nowait(1)
    assert not inbox.empty()
    assert await inbox.get() == 1
    assert inbox.empty()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)  # the reader now waits
    inbox.put_nowait(2)
    inbox.put_nowait(3)
    assert await reader == 2
    assert await inbox.get() == 3


async def test_inbox_reader_cancelled_while_waiting_leaves_it_usable() -> None:
    inbox = _Inbox()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    inbox.put_nowait("after")
    assert await inbox.get() == "after"


async def test_flag_waiters_pass_once_set() -> None:
    flag = _Flag()
    assert flag.is_set()
    await flag.wait()  # set: returns at once
    flag.clear()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    await asyncio.gather(*waiters)


async def test_flag_waiter_cancelled_is_forgotten() -> None:
    flag = _Flag()
    flag.clear()
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert flag._waiters == []
    flag.set()
