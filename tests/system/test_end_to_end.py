"""The four services as OS processes over a real Redis: data flows end to end."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import redis as sync_redis
import websockets

from tests.system.conftest import (
    Product,
    running_product,
    start_product,
    stop_product,
    suite_redis,
)
from tests.waiting import eventually_sync

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    """The product on the suite's Redis: its embedded one, or a private three-master Redis
    Cluster (MP_REDIS_CLUSTER=true) when the suite runs on a cluster (`make test` runs both)."""
    with running_product(tmp_path_factory.mktemp("product")) as running:
        yield running


def test_on_a_cluster_every_master_holds_part_of_the_data(product: Product) -> None:
    """Cluster mode really spreads the assets over the masters (standalone: nothing to check)."""
    if product.cluster is None:
        pytest.skip("standalone")
    cluster = product.cluster

    def spread() -> list[int] | None:
        masters = [row.port for row in cluster.node_table() if row.role == "master"]
        sizes = []
        for port in masters:
            with sync_redis.Redis(port=port, socket_timeout=2) as node:
                sizes.append(int(node.dbsize()))
        return sizes if len([n for n in sizes if n > 0]) >= 2 else None

    eventually_sync(spread, timeout=20, what="keys on two or more masters")


def get_json(url: str) -> tuple[int, Any]:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return 0, None
    return response.status_code, response.json()


def test_snapshot_has_ticker_candles_and_warm_indicators_within_15s(product: Product) -> None:
    """A dashboard's first paint: ticker, candles, EMA and RSI served within 15 s of start."""

    def ready() -> Any:
        status, body = get_json(f"{product.base_url}/v1/assets/bitcoin/snapshot?tf=1h")
        data = body.get("data") if status == 200 else None
        if not data or not data.get("ticker") or not data.get("indicators"):
            return None
        return data

    data = eventually_sync(ready, timeout=15, what="full snapshot")
    assert data["ticker"]["price"] > 0
    candles = data["candles"]
    assert len(candles) > 50
    assert [c["t"] for c in candles] == sorted(c["t"] for c in candles)
    values = data["indicators"]["values"]
    assert values["rsi_14"] is not None
    assert 0 <= values["rsi_14"] <= 100
    assert values["ema_12"] is not None


def test_every_asset_gets_a_sentiment_from_the_offline_provider(product: Product) -> None:
    """Sentiment flows from indicators to the gateway, marked as the heuristic provider."""
    for asset in ("bitcoin", "ethereum"):

        def sentiment(asset: str = asset) -> Any:
            status, body = get_json(f"{product.base_url}/v1/assets/{asset}/sentiment")
            return body["data"] if status == 200 else None

        data = eventually_sync(sentiment, timeout=20, what=f"{asset} sentiment")
        assert data["provider"] == "heuristic"
        assert data["label"] in {"bullish", "bearish", "neutral"}


def test_indicators_follow_new_candles(product: Product) -> None:
    """As the simulated market closes 5m candles, the 5m indicator window moves on."""
    url = f"{product.base_url}/v1/assets/ethereum/indicators?tf=5m"

    def window_end() -> int | None:
        status, body = get_json(url)
        return body["data"]["window"]["last_open"] if status == 200 else None

    first = eventually_sync(window_end, timeout=15, what="5m indicators")
    later = eventually_sync(
        lambda: (end := window_end()) is not None and end > first and end,
        timeout=20,
        what="a newer 5m window",
    )
    assert later > first


def test_websocket_gives_a_snapshot_then_ordered_updates(product: Product) -> None:
    """A client subscribed to ticker:bitcoin gets a snapshot, then deltas chained by seq."""

    async def session() -> list[dict[str, Any]]:
        async with websockets.connect(product.ws_url, open_timeout=5) as ws:
            await ws.send(
                orjson.dumps({"op": "subscribe", "channels": ["ticker:bitcoin"]}).decode()
            )
            frames: list[dict[str, Any]] = []
            deadline = time.monotonic() + 15
            while sum(f["type"] == "delta" for f in frames) < 3:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"too few deltas: {frames}"
                frames.append(orjson.loads(await asyncio.wait_for(ws.recv(), remaining)))
            return frames

    frames = asyncio.run(session())
    kinds = [f["type"] for f in frames if f["type"] != "heartbeat"]
    assert kinds[:2] == ["subscribed", "snapshot"]
    snapshot = frames[1]
    deltas = [f for f in frames if f["type"] == "delta"]
    assert deltas[0]["prev_seq"] == snapshot["seq"]
    for before, after in itertools.pairwise(deltas):
        assert after["prev_seq"] == before["seq"]
    assert {f["epoch"] for f in deltas} == {snapshot["epoch"]}


def test_a_bad_setting_stops_with_one_line_naming_it(tmp_path: Any) -> None:
    """`make run` with a bad value exits 2 and names the variable, no traceback."""
    bad = start_product(tmp_path, MP_TIMEFRAMES="5m,7m")
    assert bad.proc.wait(30) == 2
    text = bad.finished_output()
    assert "MP_TIMEFRAMES" in text
    assert "Traceback" not in text


def test_ctrl_c_stops_every_process_cleanly(tmp_path: Any) -> None:
    """SIGINT to the supervisor stops all four services (and its Redis, when it started
    one), exit status 0."""
    with suite_redis(tmp_path, {}) as (env, _):
        running = start_product(tmp_path, **env)
        eventually_sync(
            lambda: get_json(f"{running.base_url}/healthz")[0] == 200, timeout=30, what="healthz"
        )
        assert stop_product(running) == 0
        assert get_json(f"{running.base_url}/healthz")[0] == 0
