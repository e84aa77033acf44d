"""The success body of every data endpoint (DESIGN §6): `{"data": …, "meta": {…}}`.

The models document the API (OpenAPI); the bodies themselves are spliced from bytes. `data`
is the JSON its producer published, never decoded and re-encoded, and `meta` is a few bytes
formatted per response because `age_s` grows with every request. A `ReadyBody` holds
everything about a value that does not change between requests (the body before and after
`age_s`, both ETags), so answering from it costs one subtraction and one bytes format: no
Redis, no JSON encoding, no pydantic. The hot path (edge.py) and the FastAPI routes render
through the same `ReadyBody`, so both give the same bytes for the same value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from marketpulse_common.events import (
    Candle,
    Evaluation,
    Forecast,
    Indicators,
    Sentiment,
    Ticker,
)
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.freshness import Freshness
from marketpulse_gateway.rest.etag import etag_for

T = TypeVar("T")

# The layer a value was read from, when its producer did not say where it came from.
CACHE_SOURCE = "cache"


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True)


class PartMeta(_Body):
    as_of: datetime | None = Field(
        description="When the (oldest) value was produced; null only when nothing is cached."
    )
    age_s: float | None = Field(description="Seconds since `as_of` at the time of the response.")
    stale: bool = Field(
        description="Older than its producer's expected cadence allows, or served while the "
        "shared cache is unreachable (last-known-good)."
    )


class Meta(PartMeta):
    source: str = Field(
        description="Where the value came from: the upstream (`coingecko`, `simulated`), the "
        "deriving service (`compute`, `sentiment`), or `cache` when unknown."
    )


class SnapshotMeta(Meta):
    parts: dict[str, Meta] = Field(description="Freshness and source of each part present.")


class Envelope(_Body, Generic[T]):
    data: T
    meta: Meta


class AssetSummary(_Body):
    asset: str
    ticker: Ticker | None
    timeframes: list[Timeframe] = Field(
        description="The timeframes served for this asset, shortest first: the `tf` its "
        "candles, indicators, forecast and evaluation take, and the one in their channels."
    )


class AssetSnapshot(_Body):
    ticker: Ticker | None
    candles: list[Candle] | None
    indicators: Indicators | None
    forecast: Forecast | None
    evaluation: Evaluation | None
    sentiment: Sentiment | None


class SnapshotEnvelope(_Body):
    data: AssetSnapshot
    meta: SnapshotMeta


def iso_utc(ts: float) -> str:
    return _iso(datetime.fromtimestamp(ts, UTC))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Clients may keep a copy but must revalidate each time; with ETags that costs a 304.
CACHE_CONTROL = "no-cache"
Header = tuple[bytes, bytes]
_JSON_TYPE: Header = (b"content-type", b"application/json")
_NO_CACHE: Header = (b"cache-control", CACHE_CONTROL.encode())


@dataclass(slots=True)
class Rendered:
    """One rendering of a value: the body, its ETag and the headers of a 200 carrying it."""

    age_ms: int
    stale: bool
    body: bytes
    etag: bytes
    headers: list[Header]
    # The edge's ready ASGI messages for this rendering, built on first use (edge.py).
    answer: Any = None


@dataclass(slots=True, eq=False)
class ReadyBody:
    """One value ready to send: the body around `age_s`, precomputed, and both ETags.

    The latest rendering is kept: `age_s` has millisecond resolution, so a busy resource is
    rendered at most once per millisecond however many clients read it.
    """

    data: bytes
    produced_at: float
    max_age_s: float
    source: str
    head: bytes  # {"data":…,"meta":{"as_of":…,"age_s":
    tail_fresh: bytes  # ,"stale":false,"source":…}}
    tail_stale: bytes
    etag_fresh: bytes
    etag_stale: bytes
    _last: Rendered | None = field(default=None, repr=False)

    @classmethod
    def build(cls, data: bytes, produced_at: float, max_age_s: float, source: str) -> ReadyBody:
        source = source or CACHE_SOURCE
        as_of = orjson.dumps(iso_utc(produced_at))
        tail = b',"source":' + orjson.dumps(source) + b"}}"
        return cls(
            data=data,
            produced_at=produced_at,
            max_age_s=max_age_s,
            source=source,
            head=b'{"data":' + data + b',"meta":{"as_of":' + as_of + b',"age_s":',
            tail_fresh=b',"stale":false' + tail,
            tail_stale=b',"stale":true' + tail,
            etag_fresh=etag_for(data, stale=False).encode(),
            etag_stale=etag_for(data, stale=True).encode(),
        )

    def render(self, now: float, *, force_stale: bool = False) -> Rendered:
        """The response at `now`; `force_stale` when serving last-known-good."""
        age = now - self.produced_at
        # Producer and gateway clocks may disagree by a little: an age is never negative.
        age_ms = int(age * 1000.0 + 0.5) if age > 0.0 else 0
        stale = force_stale or age > self.max_age_s
        last = self._last
        if last is not None and last.age_ms == age_ms and last.stale is stale:
            return last
        seconds, millis = divmod(age_ms, 1000)
        tail = self.tail_stale if stale else self.tail_fresh
        body = b"%b%d.%03d%b" % (self.head, seconds, millis, tail)
        etag = self.etag_stale if stale else self.etag_fresh
        headers = [_JSON_TYPE, (b"content-length", b"%d" % len(body)), (b"etag", etag), _NO_CACHE]
        self._last = rendered = Rendered(age_ms, stale, body, etag, headers)
        return rendered


def meta_dict(
    fresh: Freshness | None, source: str = CACHE_SOURCE, *, force_stale: bool = False
) -> dict[str, object]:
    """Meta of a body composed of several values; with none cached it is null and stale."""
    source = source or CACHE_SOURCE
    if fresh is None:
        return {"as_of": None, "age_s": None, "stale": True, "source": source}
    return {
        "as_of": _iso(fresh.as_of),
        "age_s": fresh.age_s,
        "stale": fresh.stale or force_stale,
        "source": source,
    }


def encode_envelope(data: bytes, meta: dict[str, object]) -> bytes:
    """Splice already-encoded `data` and the meta into one body."""
    return b'{"data":%b,"meta":%b}' % (data, orjson.dumps(meta))
