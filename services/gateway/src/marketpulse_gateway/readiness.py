"""What `/readyz` reports and when the gateway counts as ready: a pure verdict on probe results.

Ready means "send me traffic": Redis answers, the stream reader is following the streams, and
every tracked asset has at least a ticker to serve. Staleness is reported per channel but
does not make the gateway unready: stale data marked stale is still worth serving.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.freshness import age_s, is_stale


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True)


class ChannelReport(_Report):
    age_s: float | None
    stale: bool


class RedisReport(_Report):
    reachable: bool
    latency_ms: float | None = None


class Readiness(_Report):
    ready: bool
    reasons: list[str]
    redis: RedisReport
    stream_reader: bool
    assets: dict[str, dict[str, ChannelReport]]


def channel_label(channel: Channel) -> str:
    """A channel's name within its asset's report: `ticker`, `indicators:1h`."""
    return channel.kind.value if channel.tf is None else f"{channel.kind.value}:{channel.tf.value}"


def assess(
    catalog: Catalog,
    redis: RedisReport,
    *,
    reader_running: bool,
    produced_at: Mapping[Channel, float | None],
    now: float,
) -> Readiness:
    assets: dict[str, dict[str, ChannelReport]] = {asset: {} for asset in catalog.assets}
    assets |= _channel_reports(produced_at, now)
    reasons = []
    if not redis.reachable:
        reasons.append("Redis is unreachable")
    if not reader_running:
        reasons.append("the stream reader is not following the streams")
    if redis.reachable:
        tickers = {a: produced_at.get(Channel(ChannelKind.TICKER, a)) for a in catalog.assets}
        missing = [asset for asset, ts in tickers.items() if ts is None]
        if missing:
            reasons.append(f"no ticker cached yet for {', '.join(missing)}")
    return Readiness(
        ready=not reasons,
        reasons=reasons,
        redis=redis,
        stream_reader=reader_running,
        assets=assets,
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
