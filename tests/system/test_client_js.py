"""The TypeScript client (built `dist/`, Node, the `ws` package) against the real product:
gateway, Redis and the simulated market as OS processes."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets

from tests.js_client import JsWatcher, js_watcher, require_tools
from tests.system.conftest import Product
from tests.waiting import eventually_sync

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]

# Channels that move every few seconds at MP_SIM_SPEED=300 (a 5m candle closes each second).
CHANNELS = ["ticker:bitcoin", "candles:bitcoin:5m", "indicators:bitcoin:5m", "forecast:ethereum:5m"]
BUSY = ["ticker:bitcoin", "indicators:bitcoin:5m"]


@pytest.fixture(autouse=True)
def _node() -> None:
    require_tools()


def fresh_snapshot(ws_url: str, channel: str) -> dict[str, Any]:
    """The gateway's snapshot frame for `channel`, from a new connection of our own."""

    async def read() -> dict[str, Any]:
        async with websockets.connect(ws_url, open_timeout=5) as ws:
            await ws.send(orjson.dumps({"op": "subscribe", "channels": [channel]}).decode())
            while True:
                frame: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame["type"] == "snapshot":
                    return frame

    return asyncio.run(read())


def without_nulls(data: dict[str, Any]) -> dict[str, Any]:
    """A value as the client holds it: a top-level null is an absent field."""
    return {k: v for k, v in data.items() if v is not None}


def deltas_seen(watcher: JsWatcher, channel: str) -> int:
    return sum(c["type"] == "delta" for c in watcher.changes(channel))


def assert_chained(changes: list[dict[str, Any]]) -> None:
    """A snapshot first, then deltas each following the seq before it: none missed or repeated."""
    assert changes, "no change arrived"
    assert changes[0]["type"] == "snapshot"
    for before, after in itertools.pairwise(changes):
        assert after["type"] == "delta", f"unexpected {after}"
        assert after["prevSeq"] == before["seq"], f"{after} does not follow {before['seq']}"


def assert_converges(watcher: JsWatcher, ws_url: str, channel: str) -> None:
    """The client's value of `channel` equals a fresh server snapshot taken at the same seq."""

    def same_seq() -> tuple[dict[str, Any], dict[str, Any]] | None:
        server = fresh_snapshot(ws_url, channel)
        client = watcher.dump()
        position = client["positions"].get(channel)
        if position is None or position["seq"] != server["seq"]:
            return None  # one of them saw an update the other has not yet: look again
        return server, client

    server, client = eventually_sync(same_seq, timeout=30, what=f"{channel} at one seq")
    assert client["values"][channel] == without_nulls(server["data"])
    assert client["positions"][channel]["epoch"] == server["epoch"]


def test_live_updates_arrive_in_order_and_end_equal_to_the_server(product: Product) -> None:
    """Snapshot then chained deltas on every channel, and the value the server holds."""
    with js_watcher(product.base_url, CHANNELS, "--frames") as watcher:
        watcher.wait_for(
            lambda w: all(deltas_seen(w, c) >= 3 for c in BUSY),
            timeout=90,
            what="three deltas on each busy channel",
        )
        for channel in CHANNELS:
            assert_converges(watcher, product.ws_url, channel)
        final = watcher.finish()

    for channel in CHANNELS:
        assert_chained(watcher.changes(channel))
    diagnostics = final["diagnostics"]
    assert diagnostics["gaps"] == 0
    assert diagnostics["duplicates"] == 0
    assert diagnostics["resyncs"] == 0
    assert diagnostics["connects"] == 1
    assert diagnostics["framesApplied"] == len(watcher.events("change"))
    # Every frame the gateway sent was one the client could read and account for.
    frames = watcher.events("frame")
    applied = [f for f in frames if f["frame"]["type"] in ("snapshot", "delta")]
    assert len(applied) == diagnostics["framesApplied"]
    assert not watcher.events("error")
    states = [e["state"] for e in watcher.events("state")]
    assert states[:2] == ["connecting", "live"]


def test_a_new_client_resumes_from_saved_positions(product: Product, tmp_path: Path) -> None:
    """Positions saved by one client let the next resume: recovered, no snapshot, no gap."""
    with js_watcher(product.base_url, BUSY) as first:
        first.wait_for(
            lambda w: all(deltas_seen(w, c) >= 1 for c in BUSY), timeout=60, what="a delta each"
        )
        saved = first.finish()["positions"]
    assert set(saved) == set(BUSY)
    positions = tmp_path / "positions.json"
    positions.write_text(json.dumps(saved))

    with js_watcher(product.base_url, BUSY, "--resume-from", str(positions)) as second:
        second.wait_for(
            lambda w: all(deltas_seen(w, c) >= 2 for c in BUSY), timeout=60, what="deltas each"
        )
        final = second.finish()

    for channel in BUSY:
        changes = second.changes(channel)
        kinds = [c["type"] for c in changes]
        assert kinds[:2] == ["snapshot", "recovered"], kinds
        assert changes[0]["reason"] == "restored"
        assert changes[0]["seq"] == saved[channel]["seq"]
        deltas = [c for c in changes if c["type"] == "delta"]
        assert deltas[0]["prevSeq"] == saved[channel]["seq"]
        for before, after in itertools.pairwise(deltas):
            assert after["prevSeq"] == before["seq"]
    assert final["diagnostics"]["recovered"] == len(BUSY)
    assert final["diagnostics"]["snapshotsApplied"] == 0
    assert final["diagnostics"]["gaps"] == 0


def test_rest_revalidates_and_reports_problems_as_typed_errors(product: Product) -> None:
    """ETag revalidation gives the kept body on 304; 404 and 422 arrive as typed errors."""
    with js_watcher(product.base_url, []) as watcher:
        eventually_sync(
            lambda: watcher.rest("candles", "bitcoin", {"tf": "1d", "limit": 5})["ok"],
            timeout=30,
            what="1d candles",
        )

        def revalidated() -> bool:
            first = watcher.rest("candles", "bitcoin", {"tf": "1d", "limit": 5})
            second = watcher.rest("candles", "bitcoin", {"tf": "1d", "limit": 5})
            # A new 1d candle may close between the two (every ~5 min at this speed): try again.
            if not (second["ok"] and second["body"]["data"] == first["body"]["data"]):
                return False
            # The kept body, its age brought up to date (the ETag does not cover the age).
            before, after = first["body"]["meta"], second["body"]["meta"]
            assert after["age_s"] >= before["age_s"] and after["as_of"] == before["as_of"]
            return bool(second["rest"]["notModified"] > first["rest"]["notModified"])

        eventually_sync(revalidated, timeout=30, what="a 304 answered with the kept body")

        unknown = watcher.rest("ticker", "nocoin")
        assert unknown["ok"] is False
        assert unknown["error"]["name"] == "MarketPulseHttpError"
        assert unknown["error"]["status"] == 404
        assert unknown["error"]["type"] == "urn:marketpulse:problem:unknown-asset"
        assert "nocoin" in unknown["error"]["detail"]

        unserved = watcher.rest("indicators", "bitcoin", {"tf": "1m"})
        assert unserved["error"]["status"] == 422
        assert unserved["error"]["retryAfter"] is None
        watcher.finish()
