"""Every Redis key and stream name, in one place.

Layout (all under the `mp:` namespace):

    mp:{asset}:stream:<kind>[:<tf>]   channel history stream (the WS resume log), one entry per
                                      value: s, ts, d, prev, epoch, src
    mp:{asset}:snap:<kind>[:<tf>]     latest value: hash s, ts, d, seq, epoch, ver, src
    mp:{asset}:candles:<tf>           closed candles, sorted set scored by open time
    mp:{asset}:forecasts:<tf>         recorded forecasts: hash, candle open time -> Forecast JSON
    mp:{asset}:sentiment:headlines    recent news headlines matched to the asset (JSON, TTL)
    mp:{asset}:sentiment:gate         marks a model call for the asset (TTL = min interval)
    mp:sentiment:budget:<hour>        model calls and tokens used in one hour window
    mp:sentiment:cooldown             set while the model provider is failing (TTL)
    mp:apikey:<id>                    gateway API key: hash digest, name, created_at, revoked_at
    mp:apikeys                        set of every API key id (for listing)
    mp:ratelimit:<subject>            gateway rate-limit state of one key or client IP (GCRA)
    mp:lease:{<job>}                  single-runner lease (+ `:fence` counter, `:slot` of grid jobs)
    mp:deadletter                     messages that failed too often (bounded stream)
    mp:health:<service>:<instance>    liveness beacon with a TTL
    mp:status:<component>             free-form status hash (source status, budgets)
    mp:sim:clock                      the simulated market's clock anchor (JSON, no TTL)
    mp:{asset}:gaps:<tf>              candle holes the ingestor tried to repair: open -> attempts
    mp:upstream:{<host>}:calls        upstream call log, sorted set scored by call time (ms)
    mp:upstream:{<host>}:month:<ym>   upstream calls in one UTC month (counter)
    mp:upstream:{<host>}:gate         upstream pause (429) and circuit breaker state (hash)

The fields of a channel's entries and snapshot are `publisher.ChannelField`.

Names that belong to one asset carry it as a hash tag (`{bitcoin}`) so every key a Lua
script touches for one channel lives in one Redis Cluster slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from marketpulse_common.timeframes import Timeframe

PREFIX = "mp"
ASSET_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
_ASSET_RE = re.compile(ASSET_PATTERN)

DEAD_LETTER_STREAM = f"{PREFIX}:deadletter"
# Dead letters are for a person to read at 3 a.m., not an archive: keep the last few thousand.
DEAD_LETTER_MAXLEN = 5000


class ChannelKind(StrEnum):
    TICKER = "ticker"
    CANDLES = "candles"
    INDICATORS = "indicators"
    FORECAST = "forecast"
    EVALUATION = "evaluation"
    SENTIMENT = "sentiment"

    @property
    def has_timeframe(self) -> bool:
        return self not in (ChannelKind.TICKER, ChannelKind.SENTIMENT)


def is_valid_asset(asset: str) -> bool:
    return bool(_ASSET_RE.match(asset))


@dataclass(frozen=True, slots=True)
class Channel:
    """A named flow of values for one asset (and timeframe): `indicators:bitcoin:1h`."""

    kind: ChannelKind
    asset: str
    tf: Timeframe | None = None

    def __post_init__(self) -> None:
        if not is_valid_asset(self.asset):
            raise ValueError(f"invalid asset id {self.asset!r}")
        if self.kind.has_timeframe != (self.tf is not None):
            need = "needs" if self.kind.has_timeframe else "takes no"
            raise ValueError(f"channel kind {self.kind} {need} a timeframe")

    @property
    def name(self) -> str:
        return ":".join(self._parts())

    @property
    def stream_key(self) -> str:
        return f"{PREFIX}:{{{self.asset}}}:stream:{self._suffix()}"

    @property
    def snapshot_key(self) -> str:
        return f"{PREFIX}:{{{self.asset}}}:snap:{self._suffix()}"

    @classmethod
    def parse(cls, name: str) -> Channel:
        """Parse a public channel name; raises ValueError with a readable message."""
        parts = name.split(":")
        try:
            kind = ChannelKind(parts[0])
        except ValueError:
            raise ValueError(f"unknown channel kind {parts[0]!r}") from None
        expected = 3 if kind.has_timeframe else 2
        if len(parts) != expected:
            shape = f"{kind}:<asset>:<tf>" if kind.has_timeframe else f"{kind}:<asset>"
            raise ValueError(f"channel must look like {shape}")
        tf = None
        if kind.has_timeframe:
            try:
                tf = Timeframe(parts[2])
            except ValueError:
                raise ValueError(f"unknown timeframe {parts[2]!r}") from None
        return cls(kind, parts[1], tf)

    @classmethod
    def from_stream_key(cls, key: str) -> Channel:
        """Inverse of `stream_key`: `mp:{bitcoin}:stream:candles:1h` → candles:bitcoin:1h."""
        prefix, sep, rest = key.partition(":{")
        asset, sep2, tail = rest.partition("}:stream:")
        if prefix != PREFIX or not sep or not sep2:
            raise ValueError(f"not a channel stream key: {key!r}")
        kind, _, tf = tail.partition(":")
        return cls.parse(f"{kind}:{asset}:{tf}" if tf else f"{kind}:{asset}")

    def _parts(self) -> list[str]:
        parts = [self.kind.value, self.asset]
        if self.tf is not None:
            parts.append(self.tf.value)
        return parts

    def _suffix(self) -> str:
        return self.kind.value if self.tf is None else f"{self.kind.value}:{self.tf.value}"


def candles_key(asset: str, tf: Timeframe) -> str:
    return f"{PREFIX}:{{{asset}}}:candles:{tf.value}"


def forecasts_key(asset: str, tf: Timeframe) -> str:
    # One field per forecast candle, written once (HSETNX): the ledger evaluation scores.
    return f"{PREFIX}:{{{asset}}}:forecasts:{tf.value}"


def api_key_key(key_id: str) -> str:
    # Only the SHA-256 digest of a key is stored; the id is the lookup prefix a key carries.
    return f"{PREFIX}:apikey:{key_id}"


def api_key_index_key() -> str:
    return f"{PREFIX}:apikeys"


def rate_limit_key(subject: str) -> str:
    # One GCRA "theoretical arrival time" per subject (`key:<id>` or `ip:<address>`); it
    # expires once the subject's budget is full again, so idle clients leave nothing behind.
    return f"{PREFIX}:ratelimit:{subject}"


def lease_key(job: str) -> str:
    return f"{PREFIX}:lease:{{{job}}}"


def fence_key(job: str) -> str:
    return f"{PREFIX}:lease:{{{job}}}:fence"


def job_slot_key(job: str) -> str:
    # The newest slot of a clock-grid job that some replica has run: one run per slot even
    # when a replica's scheduler wakes late and finds the lease already lapsed.
    return f"{PREFIX}:lease:{{{job}}}:slot"


def health_key(service: str, instance: str) -> str:
    return f"{PREFIX}:health:{service}:{instance}"


def health_host_key(service: str, host: str) -> str:
    """The beacon of `service` on `host` (any instance there): one GET for a health check."""
    return f"{PREFIX}:health-host:{service}:{host}"


def health_pattern(service: str = "*") -> str:
    return f"{PREFIX}:health:{service}:*"


def status_key(component: str) -> str:
    return f"{PREFIX}:status:{component}"


def gap_attempts_key(asset: str, tf: Timeframe) -> str:
    # Bounds how often one hole the upstream cannot fill is asked for again.
    return f"{PREFIX}:{{{asset}}}:gaps:{tf.value}"


def upstream_calls_key(host: str) -> str:
    # The upstream keys share the host's hash tag: one Lua script reads and writes them all.
    return f"{PREFIX}:upstream:{{{host}}}:calls"


def upstream_month_key(host: str, month: str) -> str:
    """Calls to `host` in one UTC month (`month` is "YYYY-MM")."""
    return f"{PREFIX}:upstream:{{{host}}}:month:{month}"


def upstream_gate_key(host: str) -> str:
    return f"{PREFIX}:upstream:{{{host}}}:gate"


def sim_clock_key() -> str:
    # One simulated market per Redis: every ingestor replica and restart reads this anchor,
    # so they all agree on market time (and hence on the generated price path).
    return f"{PREFIX}:sim:clock"


def sentiment_headlines_key(asset: str) -> str:
    # In the asset's slot, so the sentiment worker reads it in one MULTI with the snapshots.
    return f"{PREFIX}:{{{asset}}}:sentiment:headlines"


def sentiment_gate_key(asset: str) -> str:
    return f"{PREFIX}:{{{asset}}}:sentiment:gate"


def sentiment_budget_key(window: int) -> str:
    """Model usage counters of one budget window (hours since the epoch)."""
    return f"{PREFIX}:sentiment:budget:{window}"


def sentiment_cooldown_key() -> str:
    return f"{PREFIX}:sentiment:cooldown"
