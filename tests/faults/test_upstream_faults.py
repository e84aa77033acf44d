"""Fault 8 — upstream 429 storms and outages (CoinGecko source against the local server).

Proves: two ingestor replicas on the CoinGecko source, pointed at the local CoinGecko-
compatible server, through a storm of 429s carrying `Retry-After` and then a 503 outage:
the shared call budget is never exceeded in any window of the upstream's own log, no call
is made inside a Retry-After pause (beyond the ones already in flight when it began),
REST keeps serving the last-known-good ticker with its growing `meta.age_s` (zero 5xx),
and once the upstream is back fresh prices flow again without restarting anything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.coingecko_server.faults import rate_limited_json, server_error
from tests.coingecko_server.server import DEMO_KEY, FakeCoinGecko, iter_windows
from tests.faults.load import RestLoad, running, seq_key
from tests.faults.product import ASSET, FaultStack, running_fault_stack
from tests.faults.verdict import Verdict
from tests.processes import ServiceProcess
from tests.waiting import eventually

pytestmark = [pytest.mark.system, pytest.mark.faults]

WINDOW_S, CEILING = 2.0, 4
RETRY_AFTER_S = 3
STORM_S = OUTAGE_S = 8.0
IN_FLIGHT_S = 0.5  # calls admitted before the first 429 came back may still land


def upstream_env(server: FakeCoinGecko) -> dict[str, str]:
    return {
        "MP_SOURCE": "coingecko",
        "MP_COINGECKO_PLAN": "demo",
        "MP_COINGECKO_API_KEY": DEMO_KEY,
        "MP_COINGECKO_BASE_URL": server.base_url,
        "MP_COINGECKO_BUDGET_WINDOW_S": str(WINDOW_S),
        "MP_COINGECKO_CALLS_PER_MINUTE": str(CEILING),
        "MP_COINGECKO_MONTHLY_CALLS": "1000000",
        "MP_COINGECKO_TICKER_INTERVAL_S": "1",
        "MP_HISTORY_DEPTH": "50",
    }


async def lasting(seconds: float) -> None:
    start = time.monotonic()

    async def over() -> bool:
        return time.monotonic() - start >= seconds

    await eventually(over, timeout=seconds + 5, interval=0.2, what=f"{seconds} s")


def ticker_seq(stack: FaultStack) -> tuple[int, int] | None:
    value = stack.server_value(f"ticker:{ASSET}")
    return None if value is None else seq_key(value.seq)


async def test_429_storm_and_outage_keep_the_budget_and_serve_last_known_good(
    tmp_path: Path, verdicts: Callable[[Verdict], None]
) -> None:
    with (
        FakeCoinGecko(plan="demo") as server,
        running_fault_stack(tmp_path, env=upstream_env(server)) as stack,
    ):
        stack.replicas.append(ServiceProcess("ingestor", stack.env(), stack.workdir))
        await asyncio.to_thread(stack.wait_for_value, f"ticker:{ASSET}", 60)
        rest = RestLoad([f"{stack.base_url}/v1/assets/{ASSET}/ticker"])
        async with running(rest.run):
            storm_at = time.time()
            server.go_down(rate_limited_json(str(RETRY_AFTER_S)))
            await lasting(STORM_S)
            outage_at = time.time()
            server.go_down(server_error(503))
            await lasting(OUTAGE_S)
            async with httpx.AsyncClient(timeout=10) as http:
                last_good = await http.get(rest.urls[0])
            back_at = time.time()
            server.come_back()
            before = await asyncio.to_thread(ticker_seq, stack)
            await eventually(
                lambda: fresher(stack, before), timeout=60, what="a fresh ticker again"
            )
        stack.assert_services_alive()
        calls = server.calls
    print("calls", [(round(c.at - storm_at, 2), c.path) for c in calls if c.at >= storm_at])
    print("rest", dict(rest.statuses), rest.stale)
    busiest = max(n for _, n in iter_windows([c.at for c in calls], WINDOW_S))
    storm = [c.at for c in calls if storm_at <= c.at < outage_at]
    # Each 429 pauses every replica for Retry-After: a call inside a pause is a violation.
    ignored = 0
    paused_until = 0.0
    for at in storm:
        if at < paused_until and at > paused_until - RETRY_AFTER_S + IN_FLIGHT_S:
            ignored += 1
        paused_until = max(paused_until, at + RETRY_AFTER_S)
    verdict = Verdict(
        "upstream 429 storm + outage",
        checked=len(calls),
        lost=sum(n for status, n in rest.statuses.items() if status != 200),
        duplicates=0,
        out_of_order=0,
        foreign=max(0, busiest - CEILING) + ignored,
    )
    verdicts(verdict)
    assert busiest <= CEILING
    assert storm and ignored == 0
    assert rest.requests > 0
    assert back_at > outage_at
    # Last-known-good, with its age: older than the whole storm, and marked stale.
    meta = last_good.json()["meta"]
    assert last_good.status_code == 200 and meta["age_s"] >= STORM_S, meta
    verdict.assert_clean()


async def fresher(stack: FaultStack, before: tuple[int, int] | None) -> bool:
    now = await asyncio.to_thread(ticker_seq, stack)
    return now is not None and (before is None or now > before)
