"""The success body of every data endpoint (DESIGN §6): `{"data": …, "meta": {…}}`.

The models document the API (OpenAPI) and type the meta; the data itself is spliced in as
the JSON its producer published, so a read never decodes and re-encodes a value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from marketpulse_common.events import Candle, Indicators, Sentiment, Ticker
from marketpulse_gateway.freshness import Freshness

T = TypeVar("T")

# Until the gateway learns each value's upstream (stage 2), it names the layer it read.
CACHE_SOURCE = "cache"


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True)


class PartMeta(_Body):
    as_of: datetime | None = Field(
        description="When the (oldest) value was produced; null only when nothing is cached."
    )
    age_s: float | None = Field(description="Seconds since `as_of` at the time of the response.")
    stale: bool = Field(description="Older than its producer's expected cadence allows.")


class Meta(PartMeta):
    source: str = Field(description="Where the value was read from.")


class SnapshotMeta(Meta):
    parts: dict[str, PartMeta] = Field(description="Freshness of each part that is present.")


class Envelope(_Body, Generic[T]):
    data: T
    meta: Meta


class AssetSummary(_Body):
    asset: str
    ticker: Ticker | None


class AssetSnapshot(_Body):
    ticker: Ticker | None
    candles: list[Candle] | None
    indicators: Indicators | None
    sentiment: Sentiment | None


class SnapshotEnvelope(_Body):
    data: AssetSnapshot
    meta: SnapshotMeta


def part_meta(fresh: Freshness) -> PartMeta:
    return PartMeta(as_of=fresh.as_of, age_s=fresh.age_s, stale=fresh.stale)


def meta_for(fresh: Freshness | None, source: str = CACHE_SOURCE) -> Meta:
    """Meta of a body; with nothing cached, `as_of`/`age_s` are null and it is stale."""
    if fresh is None:
        return Meta(as_of=None, age_s=None, stale=True, source=source)
    return Meta(as_of=fresh.as_of, age_s=fresh.age_s, stale=fresh.stale, source=source)


def encode_envelope(data: bytes, meta: Meta) -> bytes:
    """Splice already-encoded `data` and the meta into one body."""
    return b'{"data":' + data + b',"meta":' + meta.model_dump_json().encode() + b"}"
