"""The gateway's Prometheus metrics, served on `/metrics` (names prefixed `marketpulse_gateway_`).

The per-request metrics (latency, cache layers, refusals, stream lag) are plain numbers
updated from the event loop thread only: prometheus_client's metric objects take a lock per
update, which measured at about a quarter of a hot read's whole cost. They are turned into
Prometheus families when scraped. The WebSocket metrics change per event or per connection,
not per request, and are ordinary prometheus_client metrics: `ws_connections` (gauge: inc on
accept, dec on close), `ws_messages_sent` (counter: frames written) and
`ws_clients_dropped.labels(reason)` (counter: `slow`, `too_big`, `policy`, …).

Each running gateway has its own registry, so two apps in one process (tests, benchmarks)
never share a metric. Label values are bounded: routes are templates
(`/v1/assets/{asset}/ticker`), methods a fixed set.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from marketpulse_common.keys import ChannelKind
from marketpulse_common.metrics import LAG_BUCKETS
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.freshness import is_stale
from marketpulse_gateway.upstream import UpstreamReport

PREFIX = "marketpulse_gateway"
# A hot read answers in tens of microseconds, a Redis-backed one in about a millisecond, and
# anything past a second is an incident: buckets resolve all three.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
UNMATCHED_ROUTE = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})

# (asset, channel label such as "ticker" or "indicators:1h", age in seconds)
AgeSample = tuple[str, str, float]


class LoopCounter:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class LabelledCounter:
    """A counter family with one label; `labels(value)` gives that child's counter."""

    def __init__(self) -> None:
        self.children: dict[str, LoopCounter] = {}

    def labels(self, value: str) -> LoopCounter:
        child = self.children.get(value)
        if child is None:
            child = self.children[value] = LoopCounter()
        return child


class HistogramSeries:
    """One labelled series of a `LoopHistogram`; the hot path keeps it to observe directly."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


class LoopHistogram:
    """A histogram keyed by a tuple of label values; one bisect and two additions per sample."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.bounds = buckets
        self.series: dict[tuple[str, ...], HistogramSeries] = {}

    def child(self, key: tuple[str, ...] = ()) -> HistogramSeries:
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = HistogramSeries(self.bounds)
        return series

    def observe(self, value: float, key: tuple[str, ...] = ()) -> None:
        self.child(key).observe(value)

    def family(self, name: str, doc: str, labels: list[str]) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, doc, labels=labels)
        for key, series in self.series.items():
            cumulative, buckets = 0, []
            for bound, count in zip((*self.bounds, float("inf")), series.counts, strict=True):
                cumulative += count
                buckets.append((_le(bound), cumulative))
            family.add_metric(list(key), buckets, series.total)
        return family


class GatewayMetrics:
    def __init__(self) -> None:
        self.request_duration = LoopHistogram(LATENCY_BUCKETS)
        self.stream_lag = LoopHistogram(LAG_BUCKETS)
        self.ws_delivery_lag = LoopHistogram(LAG_BUCKETS)
        self.cache_hits = LabelledCounter()
        self.cache_misses = LabelledCounter()
        self.rate_limited = LabelledCounter()
        self.auth_failures = LabelledCounter()
        self.l1_hit = self.cache_hits.labels("l1")
        self.l1_miss = self.cache_misses.labels("l1")
        self.l2_hit = self.cache_hits.labels("l2")
        self.l2_miss = self.cache_misses.labels("l2")
        self._redis_up: Callable[[], bool] = lambda: True
        self._ages: Callable[[], Iterable[AgeSample]] = tuple
        # The ingestor's upstream record as read at the latest scrape (None: unknown).
        self.upstream: UpstreamReport | None = None
        self.registry = CollectorRegistry()
        self.registry.register(_Families(self))
        self.ws_connections = Gauge(
            f"{PREFIX}_ws_connections", "Open WebSocket connections.", registry=self.registry
        )
        self.ws_messages_sent = Counter(
            f"{PREFIX}_ws_messages_sent",
            "WebSocket frames sent to clients.",
            registry=self.registry,
        )
        self.ws_clients_dropped = Counter(
            f"{PREFIX}_ws_clients_dropped",
            "WebSocket clients closed by the server, by reason (slow, too_big, policy, …).",
            ["reason"],
            registry=self.registry,
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        if method not in _METHODS:
            method = "other"  # methods are client-chosen tokens: keep the label set bounded
        self.request_duration.observe(seconds, (route, method, str(status)))

    def watch(
        self, *, redis_up: Callable[[], bool], ages: Callable[[], Iterable[AgeSample]]
    ) -> None:
        """Report Redis reachability and the age of every held value at each scrape."""
        self._redis_up, self._ages = redis_up, ages

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def families(self) -> Iterator[Metric]:
        p = PREFIX
        yield self.request_duration.family(
            f"{p}_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["route", "method", "status"],
        )
        yield _counter(
            f"{p}_cache_hits",
            "Reads answered by a cache layer: l1 (in-process bytes) or l2 (Redis).",
            "layer",
            self.cache_hits,
        )
        yield _counter(
            f"{p}_cache_misses",
            "Reads a layer could not answer (l1: went on to Redis; l2: nothing cached).",
            "layer",
            self.cache_misses,
        )
        yield _counter(
            f"{p}_rate_limited",
            "Requests refused with 429, by subject.",
            "subject",
            self.rate_limited,
        )
        yield _counter(
            f"{p}_auth_failures",
            "Requests refused with 401, by reason.",
            "reason",
            self.auth_failures,
        )
        yield self.stream_lag.family(
            f"{p}_stream_lag_seconds", "Time from a producer's publish to this gateway's read.", []
        )
        yield self.ws_delivery_lag.family(
            f"{p}_ws_delivery_lag_seconds",
            "Time from a producer's publish to this gateway writing the event to its WebSocket "
            "subscribers, by channel kind (events nobody is subscribed to are not counted).",
            ["kind"],
        )
        yield GaugeMetricFamily(
            f"{p}_redis_up", "1 while Redis answers, else 0.", value=float(self._redis_up())
        )
        ages = GaugeMetricFamily(
            f"{p}_data_age_seconds",
            "Seconds since the value served for a channel was produced.",
            labels=["asset", "channel"],
        )
        stale = GaugeMetricFamily(
            f"{p}_data_stale",
            "1 while the value served for a channel is older than its kind allows (the rule "
            "/readyz applies: ticker 15 min, per-candle values 2 timeframes + 5 min, "
            "sentiment 2 h), else 0.",
            labels=["asset", "channel"],
        )
        for asset, channel, age in self._ages():
            ages.add_metric([asset, channel], age)
            stale.add_metric([asset, channel], float(_stale(channel, age)))
        yield ages
        yield stale
        yield from _upstream_families(p, self.upstream)


class _Families(Collector):
    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics.families()


def _counter(name: str, doc: str, label: str, counter: LabelledCounter) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for value, child in counter.children.items():
        family.add_metric([value], child.value)
    return family


def _stale(label: str, age: float) -> bool:
    """`label` as channel_label writes it: `ticker`, `indicators:1h`."""
    kind, _, tf = label.partition(":")
    return is_stale(ChannelKind(kind), Timeframe(tf) if tf else None, age)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def _upstream_families(p: str, upstream: UpstreamReport | None) -> Iterator[Metric]:
    """The upstream budget and health as the ingestor last wrote them."""
    if upstream is None:
        return
    values = {
        "calls_window": (
            "Upstream calls in the budget's sliding window (all replicas).",
            upstream.calls_window,
        ),
        "calls_window_limit": ("The ceiling for that window.", upstream.calls_per_window_limit),
        "calls_month": ("Upstream calls this UTC month (all replicas).", upstream.calls_month),
        "calls_month_limit": ("The plan's monthly call allowance.", upstream.monthly_limit),
        "paused_until_seconds": (
            "Epoch s until which a 429 pauses all calls (0: none).",
            upstream.paused_until or 0,
        ),
        "circuit_open": (
            "1 while the upstream circuit is open.",
            float(upstream.circuit == "open"),
        ),
        "last_success_seconds": (
            "Epoch s of the last valid upstream answer.",
            upstream.last_success_at,
        ),
    }
    for name, (doc, value) in values.items():
        if value is not None:
            family = GaugeMetricFamily(f"{p}_upstream_{name}", doc, labels=["source"])
            family.add_metric([upstream.source], float(value))
            yield family
