"""What `/readyz` reports and when the gateway counts as ready: a pure verdict on probe results.

Three states, because "Redis is down" must not take every replica out of service at once
while each still holds last-known-good data worth serving:

- `ready`: Redis answers, the stream reader follows the streams, every asset has a ticker.
- `degraded` (still 200: keep sending traffic): Redis is unreachable (or the reader is
  paused by the outage) but every asset's ticker is held in memory, served marked stale.
- `unready` (503): some asset has no ticker anywhere, or the reader stopped following the
  streams although Redis answers.

Staleness is reported per channel but does not change the state: stale data marked stale
is still worth serving.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_gateway.catalog import Catalog, channel_label
from marketpulse_gateway.freshness import age_s, is_stale
from marketpulse_gateway.upstream import UpstreamReport, upstream_problems


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True)


class ChannelReport(_Report):
    age_s: float | None
    stale: bool


class RedisReport(_Report):
    reachable: bool
    latency_ms: float | None = None


ReadinessState = Literal["ready", "degraded", "unready"]


class Readiness(_Report):
    state: ReadinessState
    ready: bool = Field(description="Send this gateway traffic: state is ready or degraded.")
    reasons: list[str]
    redis: RedisReport
    stream_reader: bool
    assets: dict[str, dict[str, ChannelReport]] = Field(
        description="Age of every value, from Redis (or from memory while Redis is down)."
    )
    upstream: UpstreamReport | None = Field(
        default=None, description="The ingestor's last report on the upstream source."
    )


def assess(
    catalog: Catalog,
    redis: RedisReport,
    *,
    reader_running: bool,
    produced_at: Mapping[Channel, float | None],
    now: float,
    upstream: UpstreamReport | None = None,
) -> Readiness:
    assets: dict[str, dict[str, ChannelReport]] = {asset: {} for asset in catalog.assets}
    assets |= _channel_reports(produced_at, now)
    unready: list[str] = []
    degraded: list[str] = []
    if not redis.reachable:
        degraded.append("Redis is unreachable; serving last-known-good data marked stale")
    if not reader_running:
        reason = "the stream reader is not following the streams"
        (unready if redis.reachable else degraded).append(reason)
    tickers = {a: produced_at.get(Channel(ChannelKind.TICKER, a)) for a in catalog.assets}
    missing = [asset for asset, ts in tickers.items() if ts is None]
    if missing:
        unready.append(f"no ticker cached yet for {', '.join(missing)}")
    # Cached data is still served while the upstream pauses us: degraded, not unready.
    degraded += upstream_problems(upstream, now)
    state: ReadinessState = "unready" if unready else "degraded" if degraded else "ready"
    return Readiness(
        state=state,
        ready=state != "unready",
        reasons=unready + degraded,
        redis=redis,
        stream_reader=reader_running,
        assets=assets,
        upstream=upstream,
    )


def _channel_reports(
    produced_at: Mapping[Channel, float | None], now: float
) -> dict[str, dict[str, ChannelReport]]:
    reports: dict[str, dict[str, ChannelReport]] = {}
    for channel, ts in produced_at.items():
        if ts is None:
            report = ChannelReport(age_s=None, stale=True)
        else:
            age = age_s(ts, now)
            stale = is_stale(channel.kind, channel.tf, age)
            report = ChannelReport(age_s=round(age, 3), stale=stale)
        reports.setdefault(channel.asset, {})[channel_label(channel)] = report
    return reports
