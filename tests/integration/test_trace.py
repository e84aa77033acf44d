"""One trace from the upstream call to the WebSocket fan-out, across four services that never
call each other: the trace context travels in the stream entries (`tp`).

The real parts in one process: the ingestor's CoinGecko source over loopback HTTP (a local
CoinGecko), the refresher storing and publishing into a private Redis, compute's candle
handler on the entry the ingestor appended, sentiment's worker on the entry compute appended,
and the gateway's fan-out on the entries compute and sentiment appended. Spans go to the
SDK's in-memory exporter; the checks are their parent links.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.consumer import StreamMessage
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_common.tracing import (
    configure_tracing,
    current_traceparent,
    shutdown_tracing,
)
from marketpulse_common.tracing import enabled as tracing_enabled
from marketpulse_compute.handler import CandleHandler
from marketpulse_dev.embedded_redis import RedisServer
from marketpulse_gateway.channel_event import ChannelEvent
from marketpulse_gateway.event_fanout import EventFanout
from marketpulse_ingestor.coingecko.source import CoinGeckoSource
from marketpulse_ingestor.refresher import Markets, Refresher
from marketpulse_sentiment.providers import HeuristicProvider
from marketpulse_sentiment.worker import SentimentWorker
from tests.coingecko_server.server import FakeCoinGecko
from tests.integration.ingestor.harness import cg_settings

pytestmark = pytest.mark.redis

ASSET = "bitcoin"
TF = Timeframe.H1
CANDLES = Channel(ChannelKind.CANDLES, ASSET, TF)
INDICATORS = Channel(ChannelKind.INDICATORS, ASSET, TF)
TICKER = Channel(ChannelKind.TICKER, ASSET)
SENTIMENT = Channel(ChannelKind.SENTIMENT, ASSET)


class Events:
    """An event sink that keeps what it was given (the gateway's L1 cache or hub)."""

    def __init__(self) -> None:
        self.published: list[ChannelEvent] = []

    def prime(self, event: ChannelEvent) -> None:
        pass

    def publish(self, event: ChannelEvent) -> None:
        self.published.append(event)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert configure_tracing("test", exporter=exporter)
    yield exporter
    shutdown_tracing()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = create_redis(redis_server.url, client_name="trace-test")
    yield client
    await client.aclose()


@pytest.fixture
async def refresher(redis: Redis, redis_server: RedisServer) -> AsyncIterator[Refresher]:
    with FakeCoinGecko(plan="public") as coingecko:
        config = cg_settings(redis_server.url, coingecko, [ASSET], timeframes=[TF.value])
        source = await CoinGeckoSource.open(config, redis)
        yield Refresher(redis, source, Markets((ASSET,), (TF,), config.history_depth))
        await source.aclose()


async def newest_entry(redis: Redis, channel: Channel) -> tuple[str, dict[str, str]]:
    [(entry_id, fields)] = await redis.xrevrange(channel.stream_key, count=1)
    return entry_id, fields


def fan_out(channel: Channel, entry_id: str, fields: dict[str, str]) -> None:
    hub = Events()
    EventFanout(Events(), hub, [channel]).publish(
        ChannelEvent.from_entry(channel.name, entry_id, fields)
    )
    assert [e.seq for e in hub.published] == [entry_id]


def named(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in exporter.get_finished_spans()]
    return found[0]


def parent_of(span: ReadableSpan) -> Any:
    assert span.parent is not None, f"{span.name} has no parent"
    return span.parent.span_id


async def test_one_candle_is_one_trace_from_the_upstream_call_to_the_fan_out(
    spans: InMemorySpanExporter, redis: Redis, refresher: Refresher
) -> None:
    await refresher.refresh_candles(int(time.time()))
    candle_id, candle_fields = await newest_entry(redis, CANDLES)
    await CandleHandler(redis)(StreamMessage(CANDLES.stream_key, candle_id, candle_fields, 1))
    indicators_id, indicator_fields = await newest_entry(redis, INDICATORS)
    fan_out(INDICATORS, indicators_id, indicator_fields)

    ingest = named(spans, "ingest candles")
    upstream = [s for s in spans.get_finished_spans() if s.name == "upstream call"]
    compute = named(spans, "compute candle")
    fanout = named(spans, "gateway fan-out")
    assert ingest.parent is None  # the trace starts at the ingestor's job
    assert upstream and all(parent_of(s) == ingest.context.span_id for s in upstream)
    assert parent_of(compute) == ingest.context.span_id
    assert parent_of(fanout) == compute.context.span_id
    traces = {s.context.trace_id for s in spans.get_finished_spans()}
    assert traces == {ingest.context.trace_id}
    assert compute.attributes is not None and compute.attributes["asset"] == ASSET
    assert fanout.attributes is not None and fanout.attributes["channel"] == INDICATORS.name
    assert candle_fields["tp"].split("-")[1] == format(ingest.context.trace_id, "032x")


async def test_a_sentiment_continues_the_trace_of_the_indicators_that_triggered_it(
    spans: InMemorySpanExporter, redis: Redis, refresher: Refresher
) -> None:
    await refresher.refresh_tickers(int(time.time()))
    await refresher.refresh_candles(int(time.time()))
    candle_id, candle_fields = await newest_entry(redis, CANDLES)
    await CandleHandler(redis)(StreamMessage(CANDLES.stream_key, candle_id, candle_fields, 1))
    indicators_id, indicator_fields = await newest_entry(redis, INDICATORS)
    worker = SentimentWorker(redis, HeuristicProvider(), [TF])
    await worker.handle(StreamMessage(INDICATORS.stream_key, indicators_id, indicator_fields, 1))
    sentiment_id, sentiment_fields = await newest_entry(redis, SENTIMENT)
    fan_out(SENTIMENT, sentiment_id, sentiment_fields)

    compute = named(spans, "compute candle")
    refresh = named(spans, "sentiment refresh")
    assess = named(spans, "sentiment assess")
    fanout = named(spans, "gateway fan-out")
    assert parent_of(refresh) == compute.context.span_id
    assert parent_of(assess) == refresh.context.span_id
    assert parent_of(fanout) == refresh.context.span_id
    assert refresh.context.trace_id == compute.context.trace_id == fanout.context.trace_id
    assert assess.attributes is not None and assess.attributes["provider"] == "heuristic"


async def test_a_ticker_is_traced_from_the_upstream_call_to_the_fan_out(
    spans: InMemorySpanExporter, redis: Redis, refresher: Refresher
) -> None:
    await refresher.refresh_tickers(int(time.time()))
    entry_id, fields = await newest_entry(redis, TICKER)
    fan_out(TICKER, entry_id, fields)
    ingest = named(spans, "ingest tickers")
    upstream = named(spans, "upstream call")
    fanout = named(spans, "gateway fan-out")
    assert parent_of(upstream) == ingest.context.span_id
    assert parent_of(fanout) == ingest.context.span_id
    assert fanout.context.trace_id == upstream.context.trace_id == ingest.context.trace_id


async def test_tracing_off_writes_no_trace_field(
    redis: Redis, refresher: Refresher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without OTEL_EXPORTER_OTLP_ENDPOINT nothing is turned on and entries carry no `tp`."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert not configure_tracing("test")
    assert not tracing_enabled() and current_traceparent() == ""
    await refresher.refresh_tickers(int(time.time()))
    _entry_id, fields = await newest_entry(redis, TICKER)
    assert "tp" not in fields
