"""Fault 2 — a gateway SIGKILLed while WebSocket clients read: they resume on the other one.

Proves: with two gateway replicas running over one Redis, SIGKILLing the one a group of
WebSocket clients is connected to (no close frame, as in a crash) costs them nothing: each
reconnects to the surviving replica with its last `{epoch, seq}`, is answered
`recovered: true`, and ends up having received every entry of each channel's history in
Redis exactly once and in order (no missed or repeated `seq`, every `prev_seq` chained),
while REST readers of the surviving replica see no 5xx. Clients already on the survivor are
unaffected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.load import RestLoad, WsReader, delivery_verdict, running
from tests.faults.product import ASSET, catch_up, running_fault_stack
from tests.faults.verdict import Verdict

pytestmark = [pytest.mark.system, pytest.mark.faults]

CHANNELS = [f"ticker:{ASSET}", f"candles:{ASSET}:5m", f"indicators:{ASSET}:5m"]
ON_VICTIM, ON_SURVIVOR = 8, 4
# Updates every client must receive after the kill: at 600× a 5m candle closes every 0.5 s.
AFTER_KILL = 5


async def test_clients_of_a_killed_gateway_resume_on_another_with_no_missed_seq(
    tmp_path: Path, verdicts: Callable[[Verdict], None]
) -> None:
    with running_fault_stack(tmp_path) as stack:
        await asyncio.to_thread(stack.start_spare_gateway)
        for channel in CHANNELS:
            await asyncio.to_thread(stack.wait_for_value, channel)
        # The victim is listed first: its clients fail over to the spare, and back if needed.
        victims = [WsReader([stack.ws_url, stack.spare_ws_url], CHANNELS) for _ in range(ON_VICTIM)]
        others = [WsReader([stack.spare_ws_url], CHANNELS) for _ in range(ON_SURVIVOR)]
        readers = victims + others
        spare = stack.spare_url
        rest = RestLoad([f"{spare}/v1/assets/{ASSET}/ticker",
                         f"{spare}/v1/assets/{ASSET}/candles?tf=5m&limit=50"])  # fmt: skip
        async with running(*(r.run for r in readers), rest.run):
            await catch_up(stack, readers, CHANNELS)
            for reader in victims:  # they reconnect only once they surely missed updates
                reader.gate.clear()
            await asyncio.to_thread(stack.kill_gateway)
            await catch_up(stack, others, CHANNELS)  # a newer update on every channel: all missed
            for reader in victims:
                reader.gate.set()
            for _ in range(AFTER_KILL):  # several fresh updates on every channel, all received
                await catch_up(stack, readers, CHANNELS)
        stack.assert_services_alive_except_gateway()
        verdict = delivery_verdict("gateway SIGKILL, WS resume", readers, stack.stream_ids)
        verdicts(verdict)
        for reader in victims:
            assert reader.connections[:2] == [stack.ws_url, stack.spare_ws_url]
            resumed = reader.subscribed()[len(CHANNELS) :]
            assert resumed and all(f["recovered"] is True for f in resumed), resumed
        for reader in others:
            assert reader.connections == [stack.spare_ws_url]
        assert all(r.errors() == [] for r in readers)
        assert all(r.resyncs == [] for r in readers)  # no client saw a gap or lost history
        assert rest.requests > 0 and rest.count_5xx() == 0, rest.statuses
        verdict.assert_clean()
