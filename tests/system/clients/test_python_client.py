"""The Python client against the real product (Redis, ingestor, compute, gateway as OS
processes): the acceptance of issue 15 — live updates, a gateway crash resumed without a
missed or repeated seq, Redis data loss re-snapshotted on the new epoch, a stalled reader
closed with 4008 that comes back cleanly — plus saved positions, REST and the CLI."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from marketpulse_client import (
    ChannelError,
    InvalidRequest,
    MarketPulse,
    NotFound,
    Update,
)
from marketpulse_client.merge import canonical
from tests.system.stack import Stack
from tests.waiting import eventually, eventually_sync

pytestmark = pytest.mark.system

TICKER = "ticker:bitcoin"
FAST = "indicators:bitcoin:5m"  # a new value every half second at the stack's speed
SENTIMENT = "sentiment:bitcoin"  # only the test publishes here (no sentiment service)
CLI = [sys.executable, "-m", "marketpulse_client.cli"]


class Recorder:
    """Every update the client applied, per channel."""

    def __init__(self) -> None:
        self.updates: dict[str, list[Update]] = {}

    def __call__(self, update: Update) -> None:
        self.updates.setdefault(update.channel, []).append(update)

    def deltas(self, channel: str) -> int:
        return sum(u.kind == "delta" for u in self.updates.get(channel, []))


def in_step(mp: MarketPulse, stack: Stack, channel: str) -> bool:
    """The client holds exactly the server's current value, at its epoch and seq."""
    server = stack.server_value(channel)
    position = mp.positions().get(channel)
    return (
        server is not None
        and position is not None
        and (position["epoch"], position["seq"]) == (server.epoch, server.seq)
        and position["value"] == canonical(server.data)
    )


async def until_in_step(mp: MarketPulse, stack: Stack, channel: str, timeout: float = 30) -> None:
    async def probe() -> bool:
        return in_step(mp, stack, channel)

    await eventually(probe, timeout=timeout, what=f"the client in step on {channel}")


def assert_one_unbroken_chain(updates: list[Update], stack: Stack, channel: str) -> None:
    """A snapshot, then deltas each following the one before, covering every entry of the
    server's history in that range exactly once."""
    assert updates[0].kind == "snapshot"
    assert all(u.kind == "delta" for u in updates[1:]), [u.kind for u in updates]
    for before, after in itertools.pairwise(updates):
        assert after.prev_seq == before.seq
    seqs = [u.seq for u in updates]
    assert seqs == stack.stream_ids(channel, seqs[0], seqs[-1])


async def test_live_updates_arrive_and_match_the_server(stack: Stack) -> None:
    """A snapshot then chained deltas on two channels; the value is the server's."""
    seen = Recorder()
    async with MarketPulse(stack.base_url) as mp:
        mp.subscribe(TICKER, seen)
        mp.subscribe(FAST, seen)

        async def enough() -> bool:
            return seen.deltas(TICKER) >= 3 and seen.deltas(FAST) >= 3

        await eventually(enough, timeout=30, what="three deltas on each channel")
        for channel in (TICKER, FAST):
            await until_in_step(mp, stack, channel)
            assert_one_unbroken_chain(seen.updates[channel], stack, channel)
        assert mp.diagnostics().gaps == 0


async def test_a_gateway_crash_is_resumed_without_a_missed_or_repeated_seq(stack: Stack) -> None:
    """SIGKILL the gateway mid-stream, let the server move on, restart it on its port: the
    client resumes every channel and its applied frames form one unbroken prev_seq chain."""
    seen = Recorder()
    async with MarketPulse(stack.base_url) as mp:
        mp.subscribe(TICKER, seen)
        mp.subscribe(FAST, seen)

        async def flowing() -> bool:
            return seen.deltas(TICKER) >= 2 and seen.deltas(FAST) >= 2

        await eventually(flowing, timeout=30, what="deltas before the crash")
        await asyncio.to_thread(stack.kill_gateway)
        held = mp.positions()

        async def moved_on() -> bool:
            return all(
                (v := stack.server_value(ch)) is not None and v.seq != held[ch]["seq"]
                for ch in (TICKER, FAST)
            )

        await eventually(moved_on, timeout=30, what="updates the client cannot see")
        await asyncio.to_thread(stack.start_gateway)
        for channel in (TICKER, FAST):
            await until_in_step(mp, stack, channel)
        diagnostics = mp.diagnostics()
    for channel in (TICKER, FAST):
        assert_one_unbroken_chain(seen.updates[channel], stack, channel)
    assert diagnostics.resumes_recovered >= 2
    assert diagnostics.close_codes[1006] >= 1
    assert diagnostics.gaps == diagnostics.resyncs == 0


async def test_a_gateway_shutdown_closes_with_1012_and_the_client_resumes(stack: Stack) -> None:
    """SIGTERM: the gateway says it is restarting (1012) and exits 0; the client comes back
    and resumes."""
    seen = Recorder()
    async with MarketPulse(stack.base_url) as mp:
        mp.subscribe(TICKER, seen)
        await until_in_step(mp, stack, TICKER)
        assert await asyncio.to_thread(stack.stop_gateway) == 0, stack.log_tail("gateway")
        await asyncio.to_thread(stack.start_gateway)
        await until_in_step(mp, stack, TICKER)

        async def resumed() -> bool:
            return mp.diagnostics().resumes_recovered >= 1

        await eventually(resumed, timeout=30, what="a resume")
        diagnostics = mp.diagnostics()
    assert diagnostics.close_codes[1012] == 1
    assert_one_unbroken_chain(seen.updates[TICKER], stack, TICKER)


async def test_lost_redis_data_is_resnapshotted_on_the_new_epoch(fresh_stack: Stack) -> None:
    """FLUSHALL: the next delta brings a new epoch, and the client takes a fresh snapshot."""
    stack = fresh_stack
    seen = Recorder()
    async with MarketPulse(stack.base_url) as mp:
        mp.subscribe(TICKER, seen)
        await until_in_step(mp, stack, TICKER)
        old_epoch = mp.positions()[TICKER]["epoch"]
        stack.wipe_redis()

        async def new_epoch() -> bool:
            server = stack.server_value(TICKER)
            return server is not None and server.epoch != old_epoch

        await eventually(new_epoch, timeout=30, what="a new epoch on the server")
        await until_in_step(mp, stack, TICKER)
        diagnostics = mp.diagnostics()
    assert diagnostics.epoch_changes >= 1 and diagnostics.resyncs >= 1
    after = [u for u in seen.updates[TICKER] if u.epoch != old_epoch]
    assert after[0].kind == "snapshot"
    for before, update in itertools.pairwise(after):
        assert update.kind == "snapshot" or update.prev_seq == before.seq


async def test_a_stalled_reader_is_closed_with_4008_and_reconnects_cleanly(
    small_queue_stack: Stack,
) -> None:
    """A consumer that stops taking updates stops the client reading its socket; the gateway
    closes it with 4008 once its queue overflows; released, it reconnects and catches up."""
    stack = small_queue_stack
    await asyncio.to_thread(stack.pour, SENTIMENT, 1)
    release = asyncio.Event()
    stalled = False

    async def slow_consumer(_update: Update) -> None:
        if stalled:
            await release.wait()

    async with MarketPulse(stack.base_url) as mp:
        sub = mp.subscribe(SENTIMENT, slow_consumer)
        async with asyncio.timeout(30):
            await sub.wait_synced()
        dropped_before = stack.dropped_slow()
        stalled = True

        def pour_until_dropped() -> int:
            for _ in range(100):
                stack.pour(SENTIMENT, 200)
                if stack.dropped_slow() > dropped_before:
                    return stack.dropped_slow()
            raise AssertionError("the gateway never dropped the stalled client")

        await asyncio.to_thread(pour_until_dropped)
        stalled = False
        release.set()
        await asyncio.to_thread(stack.pour, SENTIMENT, 1)
        await until_in_step(mp, stack, SENTIMENT)
        diagnostics = mp.diagnostics()
    assert diagnostics.close_codes[4008] == 1
    assert diagnostics.connects == 2


async def test_saved_positions_resume_in_a_new_client(stack: Stack) -> None:
    """positions() → JSON → a new client resumes from it: no snapshot, the missed deltas."""
    async with MarketPulse(stack.base_url) as first:
        first.subscribe(TICKER)
        await until_in_step(first, stack, TICKER)
        saved = json.dumps(first.positions())
    saved_seq = json.loads(saved)[TICKER]["seq"]

    async def moved_on() -> bool:
        return len(stack.stream_ids(TICKER, saved_seq)) >= 3

    await eventually(moved_on, timeout=30, what="two updates the saved client missed")
    seen = Recorder()
    async with MarketPulse(stack.base_url, resume_from=saved) as second:
        second.subscribe(TICKER, seen)
        await until_in_step(second, stack, TICKER)
        diagnostics = second.diagnostics()
    assert diagnostics.resumes_recovered == 1 and diagnostics.snapshots == 0
    wire = [u for u in seen.updates[TICKER] if u.kind == "delta"]
    assert wire[0].prev_seq == saved_seq


async def test_rest_helpers_revalidate_with_etags_and_raise_typed_problems(stack: Stack) -> None:
    """A second GET of an unchanged value is a 304 answered from the kept body; a bad asset
    or timeframe is the gateway's problem as NotFound / InvalidRequest."""
    statuses: list[int] = []

    async def record(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    async with (
        httpx.AsyncClient(timeout=5, event_hooks={"response": [record]}) as http,
        MarketPulse(stack.base_url, http=http) as mp,
    ):
        snapshot = await mp.snapshot("bitcoin", tf="1h")
        assert snapshot.data["ticker"]["asset"] == "bitcoin"
        assert snapshot.meta.parts is not None and "ticker" in snapshot.meta.parts

        async def revalidated() -> bool:
            statuses.clear()
            first = await mp.indicators("bitcoin", "1h")
            second = await mp.indicators("bitcoin", "1h")
            return statuses == [200, 304] and first.data == second.data

        await eventually(revalidated, timeout=30, what="a 304 between two updates")
        with pytest.raises(NotFound) as missing:
            await mp.ticker("dogecoin")
        assert missing.value.status == 404 and "dogecoin" in missing.value.detail
        with pytest.raises(InvalidRequest) as bad:
            await mp.candles("bitcoin", "7m")
        assert bad.value.status == 422


async def test_an_unknown_channel_fails_only_its_own_subscription(stack: Stack) -> None:
    """The gateway refuses `ticker:dogecoin`: updates() raises ChannelError, others go on."""
    async with MarketPulse(stack.base_url) as mp:
        good = mp.subscribe(TICKER)
        with pytest.raises(ChannelError) as refused:
            async for _ in mp.updates("ticker:dogecoin"):
                pass
        assert (refused.value.channel, refused.value.code) == ("ticker:dogecoin", "unknown_channel")
        async with asyncio.timeout(30):
            await good.wait_synced()
        assert good.error is None and mp.error is None


def test_cli_snapshot_prints_json_and_errors_in_one_line(stack: Stack, tmp_path: Path) -> None:
    """`marketpulse snapshot --json` prints the body; a bad asset is one line, exit 1."""
    ok = run_cli(["snapshot", "bitcoin", "--tf", "1h", "--json", "--url", stack.base_url])
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["data"]["ticker"]["asset"] == "bitcoin"
    bad = run_cli(["snapshot", "dogecoin", "--url", stack.base_url])
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and "404" in bad.stderr
    assert "Traceback" not in bad.stderr
    down = run_cli(["watch", "bitcoin", "--url", "http://127.0.0.1:9"])
    assert down.returncode == 1 and "Traceback" not in down.stderr


def test_cli_watch_draws_a_live_table_until_interrupted(stack: Stack, tmp_path: Path) -> None:
    """`marketpulse watch` shows the price and indicators and their state; Ctrl-C ends it."""
    out = tmp_path / "watch.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [*CLI, "watch", "bitcoin", "--tf", "5m", "--url", stack.base_url],
            stdout=sink,
            stderr=subprocess.STDOUT,
            # rich draws a Live table only on a terminal; these tell it the file is one.
            env={**os.environ, "COLUMNS": "120", "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"},
        )
    try:

        def drawn() -> bool:
            text = out.read_text()
            return "Price" in text and "RSI 14" in text and "live" in text

        eventually_sync(drawn, timeout=30, what="the live table")
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(10)
    assert code == 130
    assert "Traceback" not in out.read_text()


def run_cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if k != "MARKETPULSE_API_KEY"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=env,
                          check=False)  # fmt: skip
