"""Which requests the hot path may answer: exact paths and query strings it understands. Pure.

The hot path matches bytes, not routes: a channel value is found by its (path, raw query)
pair, and the candles query is parsed only in the few shapes FastAPI would accept the same
way. Anything else (other parameters, repeats, percent-encoding, a trailing slash) is not a
hot request and goes to FastAPI, which validates it and answers or explains the error.
"""

from __future__ import annotations

from collections.abc import Iterator

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_gateway.catalog import DEFAULT_CANDLES, DEFAULT_TIMEFRAME, MAX_CANDLES

ASSETS_PATH = "/v1/assets"
# Kinds whose resource is the channel's latest value (candles come from the sorted set).
VALUE_KINDS = (
    ChannelKind.TICKER,
    ChannelKind.INDICATORS,
    ChannelKind.FORECAST,
    ChannelKind.EVALUATION,
    ChannelKind.SENTIMENT,
)
_LIMIT_DIGITS = len(str(MAX_CANDLES))

RouteKey = tuple[str, bytes]


def route_template(kind: ChannelKind) -> str:
    """The FastAPI route template of a kind's resource (the `route` label of metrics)."""
    return f"{ASSETS_PATH}/{{asset}}/{kind.value}"


def resource_path(kind: ChannelKind, asset: str) -> str:
    return f"{ASSETS_PATH}/{asset}/{kind.value}"


def value_route_keys(channel: Channel) -> Iterator[RouteKey]:
    """Every (path, query) under which the hot path serves this channel's latest value."""
    path = resource_path(channel.kind, channel.asset)
    if channel.tf is None:
        yield path, b""
        return
    yield path, b"tf=" + channel.tf.value.encode()
    if channel.tf is DEFAULT_TIMEFRAME:
        yield path, b""


def parse_candles_query(query: bytes) -> tuple[str, int] | None:
    """(tf, limit) of a plain `tf=…&limit=…` query (either, both, any order); else None."""
    tf, limit = DEFAULT_TIMEFRAME.value, DEFAULT_CANDLES
    if not query:
        return tf, limit
    seen: set[bytes] = set()
    for part in query.split(b"&"):
        name, sep, value = part.partition(b"=")
        if not sep or name in seen:
            return None
        seen.add(name)
        if name == b"tf":
            tf = value.decode("latin-1")
        elif name == b"limit" and value.isdigit() and len(value) <= _LIMIT_DIGITS:
            limit = int(value)
            if not 1 <= limit <= MAX_CANDLES:
                return None
        else:
            return None
    return tf, limit
