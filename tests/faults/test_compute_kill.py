"""Fault 1 — a compute replica SIGKILLed mid-stream: the others take over, nothing lost or doubled.

Proves: with three compute replicas as OS processes sharing the "compute" consumer group,
SIGKILLing the one that holds delivered, unacknowledged candle events loses none of them
(every announced candle gets exactly one recorded forecast) and publishes none twice or out
of order (the forecast, indicators and evaluation histories are strictly increasing).

The test plays the ingestor: it caches a backfilled history, then caches and announces new
candles faster than real time. The replicas share the work through the "compute" group;
once one of them holds unfinished entries it is killed, and the others must reclaim them
(MP_CLAIM_IDLE_MS is lowered so that takes a second, not thirty).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from marketpulse_common.connection import create_redis
from marketpulse_common.events import Evaluation, Forecast, Indicators, decode_payload
from marketpulse_common.keys import DEAD_LETTER_STREAM, Channel
from marketpulse_compute.service import GROUP, SERVICE
from marketpulse_dev.embedded_redis import RedisServer, free_port
from tests.faults.verdict import Verdict, compare, sequence_faults
from tests.integration.compute.harness import TF, Market, cache_candles, make_candles
from tests.processes import ServiceProcess, service_env
from tests.waiting import eventually

pytestmark = [pytest.mark.system, pytest.mark.faults]

HISTORY = 200  # backfilled before the run; forecasts start at candle 150
EVENTS = 60  # announced during the run, in two halves around the kill
CLAIM_IDLE_MS = 1000


@dataclass
class Replica:
    child: ServiceProcess
    metrics_port: int

    @property
    def consumer(self) -> str:
        return f"{SERVICE}-{socket.gethostname()}-{self.child.pid}"


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = create_redis(redis_server.url, client_name="pytest")
    yield client
    await client.aclose()


def start_replica(url: str, asset: str, workdir: Path) -> Replica:
    metrics_port = free_port()
    env = service_env(
        MP_REDIS_URL=url,
        MP_ASSETS=asset,
        MP_TIMEFRAMES=TF.value,
        MP_CLAIM_IDLE_MS=str(CLAIM_IDLE_MS),
        MP_METRICS_PORT=str(metrics_port),
    )
    return Replica(ServiceProcess("compute", env, workdir), metrics_port)


async def pending_by_consumer(redis: Redis, stream: str) -> dict[str, int]:
    rows = await redis.xinfo_consumers(stream, GROUP)
    return {str(row["name"]): int(row["pending"]) for row in rows}


async def decoded(redis: Redis, channel: Channel) -> list[tuple[str, object]]:
    entries = await redis.xrange(channel.stream_key)
    return [(fields["d"], decode_payload(fields["s"], fields["d"])) for _, fields in entries]


async def test_every_candle_event_gets_exactly_one_result_despite_a_sigkill(
    redis: Redis,
    redis_server: RedisServer,
    unique: str,
    tmp_path: Path,
    verdicts: Callable[[Verdict], None],
) -> None:
    """60 events, 3 replicas, one killed holding work: 60 recorded forecasts, none twice."""
    market = Market(redis, unique)
    candles = make_candles(HISTORY + EVENTS, seed=11)
    events = candles[HISTORY:]
    await cache_candles(redis, unique, candles[:HISTORY])
    replicas = [start_replica(redis_server.url, unique, tmp_path) for _ in range(3)]
    try:
        await eventually(
            lambda: all_consuming(redis, market, replicas), timeout=20, what="3 consumers"
        )
        await announce(market, events[: EVENTS // 2])
        victim = await kill_one_holding_work(redis, market, replicas)
        await announce(market, events[EVENTS // 2 :])
        await eventually(lambda: all_done(redis, market, events), timeout=30, what="every event")
        verdict = await exactly_once(redis, market, events, victim)
        verdicts(verdict)
        verdict.assert_clean()
        survivors = [r for r in replicas if r is not victim]
        gauge = f'marketpulse_compute_drift_status{{asset="{unique}",tf="{TF.value}"}}'
        pages = [await scrape(r) for r in survivors]
        assert any(gauge in page for page in pages)
        codes = [await asyncio.to_thread(r.child.terminate, 15) for r in survivors]
        assert codes == [0, 0]
    except BaseException:
        for replica in replicas:  # what each replica said, for whoever reads the failure
            print(f"--- {replica.child.log.name}\n" + replica.child.log.read_text()[-3000:])
        raise
    finally:
        for replica in replicas:
            replica.child.kill()


async def scrape(replica: Replica) -> str:
    """The replica's Prometheus text, from its MP_METRICS_PORT endpoint."""
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"http://127.0.0.1:{replica.metrics_port}/metrics")
    return response.text


async def all_consuming(redis: Redis, market: Market, replicas: list[Replica]) -> bool:
    if not await redis.exists(market.candles.stream_key):
        return False
    try:
        names = set(await pending_by_consumer(redis, market.candles.stream_key))
    except ResponseError:  # no group until the first replica creates it
        return False
    return {r.consumer for r in replicas} <= names


async def announce(market: Market, candles: list) -> None:
    for candle in candles:
        await cache_candles(market.redis, market.asset, [candle])
        await market.announce(candle)


async def kill_one_holding_work(redis: Redis, market: Market, replicas: list[Replica]) -> Replica:
    """SIGKILL the first replica seen holding delivered, unacknowledged entries."""

    async def holder() -> Replica | None:
        pending = await pending_by_consumer(redis, market.candles.stream_key)
        return next((r for r in replicas if pending.get(r.consumer, 0) > 0), None)

    victim = await eventually(holder, timeout=10, interval=0.005, what="a replica holding work")
    await asyncio.to_thread(victim.child.kill)
    pending = await pending_by_consumer(redis, market.candles.stream_key)
    assert pending[victim.consumer] > 0, "the victim finished its work before the kill landed"
    return victim


async def all_done(redis: Redis, market: Market, events: list) -> bool:
    """Every event acknowledged and every event's candle in the ledger."""
    info = await redis.xpending(market.candles.stream_key, GROUP)
    ledger = await market.ledger()
    return int(info["pending"]) == 0 and all(c.t in ledger for c in events)


async def exactly_once(redis: Redis, market: Market, events: list, victim: Replica) -> Verdict:
    """Announced candles versus recorded forecasts (lost) and published histories
    (duplicates, out of order)."""
    ledger = await market.ledger()
    produced = [c.t for c in events]
    recorded = compare("compute SIGKILL", produced, [t for t in produced if t in ledger])
    pending = await pending_by_consumer(redis, market.candles.stream_key)
    assert pending[victim.consumer] == 0  # its entries were reclaimed and finished
    letters = await redis.xrange(DEAD_LETTER_STREAM)
    assert [f for _, f in letters if f["stream"] == market.candles.stream_key] == []
    # Published once each: the ver rule lets a candle's result into a history at most once,
    # and what was published is exactly what the ledger recorded.
    forecasts = await decoded(redis, market.forecast)
    origins = [cast(Forecast, value).origin for _, value in forecasts]
    assert all(raw == ledger[cast(Forecast, v).origin].model_dump_json() for raw, v in forecasts)
    assert origins[-1] == events[-1].t
    verdict = recorded + sequence_faults("forecasts", origins)
    for channel, key in ((market.evaluation, "as_of"), (market.indicators, "window")):
        values = [v for _, v in await decoded(redis, channel)]
        times = [
            cast(Evaluation, v).as_of if key == "as_of" else cast(Indicators, v).window.last_open
            for v in values
        ]
        assert times[-1] == events[-1].t
        verdict += sequence_faults(key, times)
    # `checked` counts the announced events; the histories only add what they found wrong.
    return Verdict(verdict.scenario, len(produced), verdict.lost, verdict.duplicates,
                   verdict.out_of_order, verdict.foreign)  # fmt: skip
