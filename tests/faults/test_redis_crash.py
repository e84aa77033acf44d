"""Faults 4 and 5 — Redis SIGKILLed, then restarted from its AOF or with its data lost.

Proves, under REST and WebSocket load and without restarting any service:

- SIGKILL + restart from the AOF: every stream entry Redis had made durable before the
  crash (checkpointed with a completed BGREWRITEAOF just before the kill) is still there
  afterwards; data flows again to the same WebSocket clients with no duplicate or
  out-of-order update; REST never answers 5xx; the candle history has no gap.
- restart with the data lost (SIGKILL, data directory deleted, empty restart): the consumer
  groups are recreated (compute publishes indicators again), every channel starts a new
  epoch and each connected WebSocket client is sent a fresh snapshot in it, the candle
  history is refilled without gap or duplicate, and REST never answers 5xx other than a
  documented 503 "no data yet" while the refill runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from marketpulse_common.keys import Channel
from marketpulse_common.timeframes import Timeframe
from tests.faults.load import RestLoad, WsReader, delivery_verdict, running, seq_key
from tests.faults.product import (
    ASSET,
    FaultStack,
    candle_history_verdict,
    catch_up,
    no_gap,
    readiness_is,
    rest_urls,
    running_fault_stack,
)
from tests.faults.verdict import Verdict, compare
from tests.waiting import eventually

pytestmark = [pytest.mark.system, pytest.mark.faults]

CHANNELS = [f"ticker:{ASSET}", f"candles:{ASSET}:5m", f"indicators:{ASSET}:5m"]
CLIENTS = 6


async def checkpoint(stack: FaultStack) -> dict[str, list[str]]:
    """Each channel's history ids, made durable: a BGREWRITEAOF started after reading them
    and completed writes (and fsyncs) a base file holding at least those."""
    ids = {ch: await asyncio.to_thread(stack.stream_ids, ch) for ch in CHANNELS}
    before = int(stack.redis.info("persistence")["aof_rewrites"])  # type: ignore[index]
    stack.redis.bgrewriteaof()

    async def rewritten() -> bool:
        info = stack.redis.info("persistence")
        return (
            int(info["aof_rewrites"]) > before  # type: ignore[index]
            and int(info["aof_rewrite_in_progress"]) == 0  # type: ignore[index]
            and info["aof_last_bgrewrite_status"] == "ok"  # type: ignore[index]
        )

    await eventually(rewritten, timeout=30, what="the AOF rewrite")
    return ids


async def test_redis_sigkilled_and_restarted_from_its_aof_keeps_every_durable_entry(
    tmp_path: Path, verdicts: Callable[[Verdict], None]
) -> None:
    with running_fault_stack(tmp_path) as stack:
        for channel in CHANNELS:
            await asyncio.to_thread(stack.wait_for_value, channel)
        readers = [WsReader([stack.ws_url], CHANNELS) for _ in range(CLIENTS)]
        rest = RestLoad(rest_urls(stack.base_url))
        async with (
            running(*(r.run for r in readers), rest.run),
            httpx.AsyncClient(base_url=stack.base_url, timeout=10) as http,
        ):
            await catch_up(stack, readers, CHANNELS)
            durable = await checkpoint(stack)
            await asyncio.to_thread(stack.kill_redis)
            await eventually(lambda: readiness_is(http, "degraded"), timeout=10, what="degraded")
            await asyncio.to_thread(stack.start_redis)
            await eventually(lambda: readiness_is(http, "ready"), timeout=60, what="ready again")
            for _ in range(3):
                await catch_up(stack, readers, CHANNELS, timeout=60)
        stack.assert_services_alive()

        kept = Verdict("Redis SIGKILL + AOF restart", 0, 0, 0, 0)
        for channel, ids in durable.items():
            now = await asyncio.to_thread(stack.stream_ids, channel)
            # Producers trim the oldest entries as they go: only what is still in range counts.
            checked = [i for i in ids if not now or seq_key(i) >= seq_key(now[0])]
            kept += compare(kept.scenario, checked, [i for i in now if i in set(checked)])
        delivered = delivery_verdict(kept.scenario, readers, stack.stream_ids)
        candles = await eventually(
            lambda: no_gap(stack, kept.scenario), timeout=60, what="the candle history whole"
        )
        print("delivered to clients:", delivered.line())
        # Writes of the last second before the crash may be rolled back (appendfsync
        # everysec, DESIGN §5): a client that had them sees the chain restart (prev_seq) and
        # resyncs, so for the clients only duplicates count here.
        verdict = kept + candles + Verdict(kept.scenario, delivered.checked, 0,
                                           delivered.duplicates, 0)  # fmt: skip
        verdicts(verdict)
        assert rest.count_5xx() == 0, rest.server_errors[:5]
        verdict.assert_clean()


async def new_epochs(stack: FaultStack, old: dict[str, str]) -> dict[str, str] | None:
    found = {ch: await asyncio.to_thread(stack.server_value, ch) for ch in CHANNELS}
    epochs = {ch: v.epoch for ch, v in found.items() if v is not None}
    fresh = len(epochs) == len(CHANNELS) and all(epochs[ch] != old[ch] for ch in CHANNELS)
    return epochs if fresh else None


async def test_redis_restarted_with_its_data_lost_is_refilled_on_a_new_epoch(
    tmp_path: Path, verdicts: Callable[[Verdict], None]
) -> None:
    scenario = "Redis data lost"
    with running_fault_stack(tmp_path) as stack:
        values = [await asyncio.to_thread(stack.wait_for_value, ch) for ch in CHANNELS]
        old = {ch: value.epoch for ch, value in zip(CHANNELS, values, strict=True)}
        readers = [WsReader([stack.ws_url], CHANNELS) for _ in range(CLIENTS)]
        rest = RestLoad(rest_urls(stack.base_url))
        async with (
            running(*(r.run for r in readers), rest.run),
            httpx.AsyncClient(base_url=stack.base_url, timeout=10) as http,
        ):
            await catch_up(stack, readers, CHANNELS)
            before = delivery_verdict(scenario, readers, stack.stream_ids, old)
            depth = await asyncio.to_thread(candle_history_verdict, stack, scenario, Timeframe.M5)
            await asyncio.to_thread(stack.lose_redis)
            await eventually(lambda: readiness_is(http, "ready"), timeout=60, what="ready again")
            epochs = await eventually(
                lambda: new_epochs(stack, old), timeout=60, what="a new epoch on every channel"
            )
            for _ in range(3):
                await catch_up(stack, readers, CHANNELS, timeout=60)
        stack.assert_services_alive()

        groups = stack.redis.xinfo_groups(Channel.parse(CHANNELS[1]).stream_key)
        assert "compute" in [g["name"] for g in groups]  # type: ignore[union-attr]
        for reader in readers:  # each connected client was re-snapshotted in the new epoch
            for channel in CHANNELS:
                snapshots = [
                    f for f in reader.frames
                    if f.get("channel") == channel and f.get("type") == "snapshot"
                ]  # fmt: skip
                assert snapshots[-1]["epoch"] == epochs[channel], (reader.connections, channel)
            assert sorted(reader.resyncs) == sorted((ch, "epoch") for ch in CHANNELS)
        after = delivery_verdict(scenario, readers, stack.stream_ids, epochs)
        refilled = await eventually(
            lambda: no_gap(stack, scenario, least=depth.checked),
            timeout=90,
            what=f"the candle history refilled to {depth.checked} candles",
        )
        verdict = before + after + refilled
        verdicts(verdict)
        print("REST statuses:", dict(rest.statuses), "errors:", dict(rest.errors))
        assert not [e for e in rest.server_errors if " 503 " not in e], rest.server_errors[:5]
        verdict.assert_clean()
