"""REST over real HTTP: envelope, problem+json errors, ETag/304, candles, snapshot, health."""

from __future__ import annotations

import time

import httpx
import pytest
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.events import Indicators, Sentiment
from marketpulse_common.keys import Channel, ChannelKind, candles_key
from marketpulse_common.publisher import Publisher
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.freshness import TICKER_MAX_AGE_S
from tests.integration.gateway.conftest import (
    RunningGateway,
    publish_ticker,
    running_gateway,
    store_candles,
    write_rejected,
)
from tests.integration.gateway.ws_support import subscribe, ws_connect

pytestmark = pytest.mark.redis

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert body["detail"]
    return body


class TestEnvelope:
    async def test_ticker(
        self, http: httpx.AsyncClient, gateway: RunningGateway, publisher: Publisher
    ) -> None:
        """The latest ticker comes in the envelope with fresh meta."""
        await publish_ticker(publisher, gateway.asset, 101.5)
        response = await http.get(f"/v1/assets/{gateway.asset}/ticker")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["data"]["price"] == 101.5
        assert body["data"]["asset"] == gateway.asset
        meta = body["meta"]
        assert meta.keys() == {"as_of", "age_s", "stale", "source"}
        assert meta["stale"] is False
        assert 0 <= meta["age_s"] < 60
        assert meta["source"] == "cache"

    async def test_old_value_is_marked_stale(
        self, http: httpx.AsyncClient, gateway: RunningGateway, publisher: Publisher
    ) -> None:
        """A value older than its threshold is served, marked stale."""
        old = time.time() - TICKER_MAX_AGE_S - 60
        await publish_ticker(publisher, gateway.asset, 99.0, ts=old)
        meta = (await http.get(f"/v1/assets/{gateway.asset}/ticker")).json()["meta"]
        assert meta["stale"] is True
        assert meta["age_s"] > TICKER_MAX_AGE_S

    async def test_indicators_and_sentiment(
        self,
        http: httpx.AsyncClient,
        gateway: RunningGateway,
        publisher: Publisher,
        indicators: Indicators,
        sentiment: Sentiment,
    ) -> None:
        """Indicators (per timeframe) and sentiment are served from their channel snapshots."""
        asset = gateway.asset
        await publisher.publish(Channel(ChannelKind.INDICATORS, asset, Timeframe.H1), indicators)
        await publisher.publish(Channel(ChannelKind.SENTIMENT, asset), sentiment)
        body = (await http.get(f"/v1/assets/{asset}/indicators", params={"tf": "1h"})).json()
        assert body["data"]["values"] == {"ema_20": 101.0, "rsi_14": None}
        body = (await http.get(f"/v1/assets/{asset}/sentiment")).json()
        assert body["data"]["label"] == "bullish"
        missing = await http.get(f"/v1/assets/{asset}/indicators", params={"tf": "5m"})
        assert_problem(missing, 503)

    async def test_list_assets(
        self, http: httpx.AsyncClient, gateway: RunningGateway, publisher: Publisher
    ) -> None:
        """/v1/assets lists the tracked assets, with null until a ticker is cached, and the
        timeframes served, shortest first."""
        before = (await http.get("/v1/assets")).json()
        assert before["data"] == [
            {"asset": gateway.asset, "ticker": None, "timeframes": ["5m", "1h"]}
        ]
        assert before["meta"]["as_of"] is None
        assert before["meta"]["stale"] is True
        await publish_ticker(publisher, gateway.asset, 7.0)
        after = (await http.get("/v1/assets")).json()
        assert after["data"][0]["ticker"]["price"] == 7.0
        assert after["meta"]["stale"] is False


class TestProblems:
    async def test_unknown_asset_is_404(self, http: httpx.AsyncClient) -> None:
        """A well-formed asset that is not tracked is 404 problem+json."""
        body = assert_problem(await http.get("/v1/assets/dogecoin/ticker"), 404)
        assert body["type"] == "urn:marketpulse:problem:unknown-asset"
        assert "dogecoin" in str(body["detail"])

    @pytest.mark.parametrize(
        "query",
        [
            {"tf": "2h"},
            {"tf": ""},
            {"tf": "1d"},  # a real timeframe, but not one this gateway serves
            {"limit": "0"},
            {"limit": "1001"},
            {"limit": "ten"},
        ],
    )
    async def test_bad_query_is_422(
        self, http: httpx.AsyncClient, gateway: RunningGateway, query: dict[str, str]
    ) -> None:
        """Bad or unserved timeframes and out-of-range limits are 422 problem+json."""
        response = await http.get(f"/v1/assets/{gateway.asset}/candles", params=query)
        body = assert_problem(response, 422)
        assert next(iter(query)) in str(body["detail"])

    async def test_bad_asset_shape_is_422(self, http: httpx.AsyncClient) -> None:
        """An asset id that cannot be a coin id fails validation (422), not lookup."""
        body = assert_problem(await http.get("/v1/assets/Not_A_Coin/ticker"), 422)
        assert body["errors"] == [
            {"location": "path parameter 'asset'", "message": body["errors"][0]["message"]}
        ]

    async def test_no_data_is_503_with_retry_after(
        self, http: httpx.AsyncClient, gateway: RunningGateway
    ) -> None:
        """A tracked asset with nothing cached yet is 503 with Retry-After."""
        for path in ("ticker", "candles", "sentiment", "snapshot"):
            response = await http.get(f"/v1/assets/{gateway.asset}/{path}")
            assert_problem(response, 503)
            assert int(response.headers["retry-after"]) > 0

    async def test_sentiment_off_is_404(self, redis_url: str, unique: str) -> None:
        """With sentiment turned off and nothing cached, sentiment is 404, not 'wait for it'."""
        async with (
            running_gateway(redis_url, unique, sentiment_provider="off") as gateway,
            httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http,
        ):
            body = assert_problem(await http.get(f"/v1/assets/{unique}/sentiment"), 404)
            assert body["type"] == "urn:marketpulse:problem:sentiment-off"

    async def test_unknown_route_and_method(self, http: httpx.AsyncClient) -> None:
        """Routing errors are problem+json too."""
        assert_problem(await http.get("/v2/nothing"), 404)
        assert_problem(await http.post("/v1/assets"), 405)


class TestETag:
    async def test_revalidation(
        self, http: httpx.AsyncClient, gateway: RunningGateway, publisher: Publisher
    ) -> None:
        """If-None-Match with the current tag gives 304; a new value gives 200 and a new tag."""
        url = f"/v1/assets/{gateway.asset}/ticker"
        await publish_ticker(publisher, gateway.asset, 1.0)
        first = await http.get(url)
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "no-cache"
        unchanged = await http.get(url, headers={"If-None-Match": etag})
        assert unchanged.status_code == 304
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag
        await publish_ticker(publisher, gateway.asset, 2.0)
        changed = await http.get(url, headers={"If-None-Match": etag})
        assert changed.status_code == 200
        assert changed.headers["etag"] != etag
        assert changed.json()["data"]["price"] == 2.0

    async def test_a_snapshot_part_turning_stale_changes_the_tag(
        self, redis_url: str, unique: str, indicators: Indicators
    ) -> None:
        """Once one part of a /snapshot is stale, the body's top-level flag stays true: the
        tag must still change when another part turns stale, or a dashboard revalidating
        with 304s keeps showing that part as fresh."""
        clock = [time.time()]
        redis = create_redis(redis_url, client_name="pytest")
        publisher = Publisher(redis)
        try:
            await publish_ticker(publisher, unique, 1.0, ts=clock[0] - TICKER_MAX_AGE_S - 60)
            channel = Channel(ChannelKind.INDICATORS, unique, Timeframe.H1)
            await publisher.publish(channel, indicators, ts=clock[0])
            async with (
                running_gateway(redis_url, unique, clock=lambda: clock[0]) as gw,
                httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http,
            ):
                url = f"/v1/assets/{unique}/snapshot?tf=1h"
                first = await http.get(url)
                parts = first.json()["meta"]["parts"]
                assert (parts["ticker"]["stale"], parts["indicators"]["stale"]) == (True, False)
                clock[0] += 3 * 3600  # nothing republished: the indicators are stale now
                later = await http.get(url, headers={"If-None-Match": first.headers["etag"]})
                assert later.status_code == 200
                assert later.json()["meta"]["parts"]["indicators"]["stale"] is True
                again = await http.get(url, headers={"If-None-Match": later.headers["etag"]})
                assert again.status_code == 304
        finally:
            await redis.aclose()


class TestCandles:
    async def test_oldest_first_and_limit(
        self,
        http: httpx.AsyncClient,
        gateway: RunningGateway,
        redis: Redis,
        publisher: Publisher,
    ) -> None:
        """Candles come oldest first; `limit` keeps the newest ones."""
        opens = [3600 * n for n in range(1000, 1010)]
        await store_candles(redis, publisher, gateway.asset, Timeframe.H1, list(reversed(opens)))
        url = f"/v1/assets/{gateway.asset}/candles"
        every = (await http.get(url, params={"tf": "1h"})).json()
        assert [c["t"] for c in every["data"]] == opens
        newest = (await http.get(url, params={"tf": "1h", "limit": 3})).json()
        assert [c["t"] for c in newest["data"]] == opens[-3:]
        assert newest["meta"]["stale"] is False
        other_tf = await http.get(url, params={"tf": "5m"})
        assert_problem(other_tf, 503)


class TestSnapshot:
    async def test_parts_and_nulls(
        self,
        http: httpx.AsyncClient,
        gateway: RunningGateway,
        redis: Redis,
        publisher: Publisher,
    ) -> None:
        """The snapshot holds every cached part; missing parts are null; meta per part."""
        asset = gateway.asset
        await publish_ticker(publisher, asset, 5.0)
        await store_candles(redis, publisher, asset, Timeframe.H1, [3600, 7200])
        body = (await http.get(f"/v1/assets/{asset}/snapshot", params={"tf": "1h"})).json()
        data = body["data"]
        assert data["ticker"]["price"] == 5.0
        assert [c["t"] for c in data["candles"]] == [3600, 7200]
        assert data["indicators"] is None
        assert data["sentiment"] is None
        assert body["meta"]["parts"].keys() == {"ticker", "candles"}
        assert body["meta"]["stale"] is False


class TestHealth:
    async def test_liveness(self, http: httpx.AsyncClient) -> None:
        """/healthz answers while the process and its stream reader run."""
        response = await http.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_readiness_follows_data(
        self, http: httpx.AsyncClient, gateway: RunningGateway, publisher: Publisher
    ) -> None:
        """/readyz is 503 until every asset has a ticker, then 200 with per-channel freshness."""
        before = assert_problem(await http.get("/readyz"), 503)
        assert before["ready"] is False
        assert before["redis"]["reachable"] is True
        await publish_ticker(publisher, gateway.asset, 3.0)
        after = await http.get("/readyz")
        assert after.status_code == 200
        report = after.json()
        assert report["ready"] is True
        assert report["assets"][gateway.asset]["ticker"]["stale"] is False
        assert report["assets"][gateway.asset]["indicators:1h"] == {"age_s": None, "stale": True}


class TestOpenAPI:
    async def test_constraints_are_documented(self, http: httpx.AsyncClient) -> None:
        """OpenAPI carries the served timeframes, asset pattern, limit bounds, problem types."""
        spec = (await http.get("/openapi.json")).json()
        params = {
            p["name"]: p for p in spec["paths"]["/v1/assets/{asset}/candles"]["get"]["parameters"]
        }
        assert params["limit"]["schema"]["minimum"] == 1
        assert params["limit"]["schema"]["maximum"] == 1000
        assert params["asset"]["schema"]["pattern"].startswith("^[a-z0-9]")
        assert params["tf"]["schema"]["enum"] == ["5m", "1h"]  # the served ones only
        ticker = spec["paths"]["/v1/assets/{asset}/ticker"]["get"]["responses"]
        assert {"200", "404", "422", "503"} <= ticker.keys()
        assert ticker["404"]["content"].keys() == {"application/problem+json"}
        assert ticker["200"]["content"].keys() == {"application/json"}

    async def test_every_resource_and_the_key_schemes_are_documented(
        self, http: httpx.AsyncClient
    ) -> None:
        """Forecast and evaluation are documented with their models; keys are optional here."""
        spec = (await http.get("/openapi.json")).json()
        for resource, model in (("forecast", "Forecast"), ("evaluation", "Evaluation")):
            operation = spec["paths"][f"/v1/assets/{{asset}}/{resource}"]["get"]
            ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
            assert model in ok["$ref"]
            assert {"401", "429", "503"} <= operation["responses"].keys()
            assert {} in operation["security"]  # MP_API_KEYS_REQUIRED is off in this gateway
        schemes = spec["components"]["securitySchemes"]
        assert schemes["bearer"]["scheme"] == "bearer"
        assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        assert "security" not in spec["paths"]["/healthz"]["get"]


class TestRejectedValues:
    async def test_a_gateway_started_on_a_rejected_value_serves_the_last_good_one(
        self, redis_url: str, unique: str, publisher: Publisher, redis: Redis
    ) -> None:
        """The newest value in Redis fails its schema when the gateway starts: it serves the
        good one before it, over REST and as the WebSocket snapshot."""
        good = await publish_ticker(publisher, unique, 101.5)
        await write_rejected(redis, Channel(ChannelKind.TICKER, unique), {"price": -1})
        async with (
            running_gateway(redis_url, unique) as gateway,
            httpx.AsyncClient(base_url=gateway.base_url) as http,
        ):
            ticker = (await http.get(f"/v1/assets/{unique}/ticker")).json()["data"]
            snapshot = (await http.get(f"/v1/assets/{unique}/snapshot")).json()["data"]
            async with ws_connect(gateway.ws_url) as ws:
                _, state = await subscribe(ws, f"ticker:{unique}")
        assert (ticker["price"], snapshot["ticker"]["price"]) == (101.5, 101.5)
        assert (state.seq, state.value["price"]) == (good.seq, 101.5)

    async def test_a_rejected_value_alone_is_no_value(
        self, redis_url: str, unique: str, publisher: Publisher, redis: Redis
    ) -> None:
        """With no good value anywhere (the stream holds only the rejected one), the ticker
        is "nothing cached yet", never the rejected value."""
        await publish_ticker(publisher, unique, 101.5)
        channel = Channel(ChannelKind.TICKER, unique)
        await write_rejected(redis, channel, {"price": -1})
        await redis.xtrim(channel.stream_key, maxlen=1, approximate=False)
        async with (
            running_gateway(redis_url, unique) as gateway,
            httpx.AsyncClient(base_url=gateway.base_url) as http,
        ):
            assert_problem(await http.get(f"/v1/assets/{unique}/ticker"), 503)

    @pytest.mark.parametrize("ts", ["nan", "inf", "1e20"])
    async def test_a_candle_stamp_that_is_no_time_is_not_trusted(
        self, http: httpx.AsyncClient, gateway: RunningGateway, redis: Redis,
        publisher: Publisher, ts: str,
    ) -> None:  # fmt: skip
        """A candles channel stamp that is not a time (a hand-made write) ended /candles and
        /snapshot in a 500: the set is served, dated by its newest candle's close."""
        asset, opens = gateway.asset, [3600 * n for n in range(1000, 1003)]
        await store_candles(redis, publisher, asset, Timeframe.H1, opens)
        await redis.hset(Channel(ChannelKind.CANDLES, asset, Timeframe.H1).snapshot_key, "ts", ts)
        for path in ("candles", "snapshot"):
            response = await http.get(f"/v1/assets/{asset}/{path}", params={"tf": "1h"})
            assert response.status_code == 200, response.text
        meta = (await http.get(f"/v1/assets/{asset}/candles", params={"tf": "1h"})).json()["meta"]
        assert meta["as_of"] is not None and meta["stale"] is True  # closed in 1970 + 114 days

    async def test_a_stored_candle_that_is_not_one_is_left_out(
        self, http: httpx.AsyncClient, gateway: RunningGateway, redis: Redis,
        publisher: Publisher,
    ) -> None:  # fmt: skip
        """Candles are spliced into the body as stored: one that is not a Candle (cut short,
        a foreign write) made the whole 200 body invalid JSON. It is left out."""
        asset, opens = gateway.asset, [3600 * n for n in range(1000, 1003)]
        await store_candles(redis, publisher, asset, Timeframe.H1, opens)
        await redis.zadd(candles_key(asset, Timeframe.H1), {'{"t":3600,"o":"x"': 3600 * 1001.5})
        response = await http.get(f"/v1/assets/{asset}/candles", params={"tf": "1h"})
        assert response.status_code == 200
        assert [c["t"] for c in response.json()["data"]] == opens
