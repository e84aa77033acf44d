"""The TypeScript client (built dist/, Node, the `ws` package) against the real product under
faults — issue 15's acceptance, the same scenarios test_python_client.py proves for the Python
client: a gateway SIGKILLed mid-stream is resumed with no missed and no repeated seq and the
client ends holding exactly the server's value; Redis losing its data is re-snapshotted on
the new epoch; a reader that stops reading is closed with 4008 and reconnects cleanly.

Every check compares what the client applied with what the server stored (the channel's
snapshot hash and its stream history in Redis), never with what the client says about itself.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.js_client import JsWatcher, js_watcher, require_tools
from tests.system.stack import Stack

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]

TICKER = "ticker:bitcoin"
FAST = "indicators:bitcoin:5m"  # a new value every half second at the stack's speed
SENTIMENT = "sentiment:bitcoin"  # only the test publishes here (no sentiment service)


@pytest.fixture(autouse=True)
def _node() -> None:
    require_tools()


def without_nulls(data: dict[str, Any]) -> dict[str, Any]:
    """A value as the client holds it: a top-level null is an absent field."""
    return {k: v for k, v in data.items() if v is not None}


def in_step(watcher: JsWatcher, stack: Stack, channel: str) -> bool:
    """The client holds exactly the server's current value, at its epoch and seq."""
    server = stack.server_value(channel)
    dump = watcher.dump()
    position = dump["positions"].get(channel)
    return (
        server is not None
        and position is not None
        and (position["epoch"], position["seq"]) == (server.epoch, server.seq)
        and dump["values"][channel] == without_nulls(server.data)
    )


def until_in_step(watcher: JsWatcher, stack: Stack, channel: str, timeout: float = 60) -> None:
    watcher.wait_for(
        lambda w: in_step(w, stack, channel),
        timeout=timeout,
        what=f"the client in step on {channel}",
    )


def deltas(watcher: JsWatcher, channel: str) -> int:
    return sum(c["type"] == "delta" for c in watcher.changes(channel))


def applied(watcher: JsWatcher, channel: str) -> list[dict[str, Any]]:
    """The snapshots and deltas the client applied to `channel` (not `recovered` notices)."""
    return [c for c in watcher.changes(channel) if c["type"] in ("snapshot", "delta")]


def assert_one_unbroken_chain(changes: list[dict[str, Any]], stack: Stack, channel: str) -> None:
    """A snapshot, then deltas each following the one before, covering every entry of the
    server's history in that range exactly once."""
    assert changes[0]["type"] == "snapshot"
    assert all(c["type"] == "delta" for c in changes[1:]), [c["type"] for c in changes]
    for before, after in itertools.pairwise(changes):
        assert after["prevSeq"] == before["seq"], f"{after} does not follow {before['seq']}"
    seqs = [c["seq"] for c in changes]
    assert seqs == stack.stream_ids(channel, seqs[0], seqs[-1])


def test_a_gateway_crash_is_resumed_without_a_missed_or_repeated_seq(stack: Stack) -> None:
    """SIGKILL the gateway mid-stream, let the server move on, restart it on its port: the
    client resumes every channel and its applied frames form one unbroken prev_seq chain."""
    with js_watcher(stack.base_url, [TICKER, FAST]) as client:
        client.wait_for(
            lambda w: deltas(w, TICKER) >= 2 and deltas(w, FAST) >= 2,
            timeout=60,
            what="deltas before the crash",
        )
        stack.kill_gateway()
        held = client.dump()["positions"]

        def moved_on() -> bool:
            return all(
                (v := stack.server_value(ch)) is not None and v.seq != held[ch]["seq"]
                for ch in (TICKER, FAST)
            )

        client.wait_for(lambda _w: moved_on(), timeout=30, what="updates the client cannot see")
        client.wait_for(
            lambda w: w.dump()["diagnostics"]["state"] == "reconnecting",
            timeout=30,
            what="the client reconnecting",
        )
        stack.start_gateway()
        for channel in (TICKER, FAST):
            until_in_step(client, stack, channel)
        diagnostics = client.finish()["diagnostics"]

    for channel in (TICKER, FAST):
        assert_one_unbroken_chain(applied(client, channel), stack, channel)
        kinds = [c["type"] for c in client.changes(channel)]
        assert kinds.count("recovered") == 1, kinds
    assert diagnostics["recovered"] == 2
    assert diagnostics["closeCodes"].get("1006", 0) >= 1
    assert diagnostics["gaps"] == diagnostics["resyncs"] == diagnostics["duplicates"] == 0
    assert diagnostics["snapshotsApplied"] == 2  # the first of each channel, none on resume
    states = [e["state"] for e in client.events("state")]
    assert "reconnecting" in states and states[-1] in ("live", "closed")


def test_lost_redis_data_is_resnapshotted_on_the_new_epoch(fresh_stack: Stack) -> None:
    """FLUSHALL: the next delta brings a new epoch, and the client takes a fresh snapshot."""
    stack = fresh_stack
    with js_watcher(stack.base_url, [TICKER]) as client:
        until_in_step(client, stack, TICKER)
        old_epoch = client.dump()["positions"][TICKER]["epoch"]
        stack.wipe_redis()

        def new_epoch() -> bool:
            server = stack.server_value(TICKER)
            return server is not None and server.epoch != old_epoch

        client.wait_for(lambda _w: new_epoch(), timeout=30, what="a new epoch on the server")
        until_in_step(client, stack, TICKER)
        diagnostics = client.finish()["diagnostics"]

    assert diagnostics["epochChanges"] >= 1 and diagnostics["resyncs"] >= 1
    assert diagnostics["gaps"] == 0
    after = [c for c in applied(client, TICKER) if c["epoch"] != old_epoch]
    assert after[0]["type"] == "snapshot"
    for before, change in itertools.pairwise(after):
        assert change["type"] == "snapshot" or change["prevSeq"] == before["seq"]
    assert client.changes(TICKER)[-1]["epoch"] != old_epoch


def test_a_stalled_reader_is_closed_with_4008_and_reconnects_cleanly(
    small_queue_stack: Stack,
) -> None:
    """A client that stops reading its socket is closed by the gateway with 4008 once its
    queue overflows; released, it reads the close, reconnects and catches up."""
    stack = small_queue_stack
    stack.pour(SENTIMENT, 1)
    with js_watcher(stack.base_url, [SENTIMENT]) as client:
        until_in_step(client, stack, SENTIMENT)
        dropped_before = stack.dropped_slow()
        client.send({"cmd": "stall"})
        client.wait_for(lambda w: w.events("stalled"), timeout=10, what="the socket paused")

        for _ in range(100):
            stack.pour(SENTIMENT, 200)
            if stack.dropped_slow() > dropped_before:
                break
        else:
            raise AssertionError("the gateway never dropped the stalled client")

        client.send({"cmd": "release"})
        stack.pour(SENTIMENT, 1)
        until_in_step(client, stack, SENTIMENT)
        diagnostics = client.finish()["diagnostics"]

    assert diagnostics["closeCodes"] == {"4008": 1}
    assert diagnostics["connects"] == 2
    assert diagnostics["gaps"] == 0 and diagnostics["duplicates"] == 0
    assert not [e for e in client.events("error") if e["fatal"]]
