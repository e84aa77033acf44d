"""Who is calling, for REST and WebSocket alike: the presented API key, and the Origin check.

Keys travel in `Authorization: Bearer <key>` or `X-API-Key: <key>`. A WebSocket client may
instead put it in the `api_key` query parameter, because browsers cannot set headers on a
WebSocket handshake; REST ignores that parameter, so keys do not end up in URLs (and from
there in proxy logs and browser history) for ordinary GETs.

The WebSocket route calls, before `websocket.accept()`:

    if not origin_allowed(gateway, websocket.headers.get("origin")): reject (403 / 1008)
    key_id = await authenticate(gateway, presented_key(websocket.headers, websocket.query_params))
    if key_id is None and gateway.settings.api_keys_required: reject (1008)

`authenticate` raises `StoreUnavailable` when the key was not seen recently and Redis
cannot be asked (reject with 1013 "try again later").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marketpulse_gateway.runtime import Gateway

QUERY_PARAMETER = "api_key"
_BEARER = "bearer "


def key_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key in `Authorization: Bearer …` (preferred) or `X-API-Key`; None when neither."""
    if authorization and authorization[: len(_BEARER)].lower() == _BEARER:
        return authorization[len(_BEARER) :].strip() or None
    if x_api_key:
        return x_api_key.strip() or None
    return None


def presented_key(headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> str | None:
    """The key a request presents; pass `query` only for WebSocket handshakes."""
    found = key_from_headers(headers.get("authorization"), headers.get("x-api-key"))
    if found is None and query is not None:
        found = query.get(QUERY_PARAMETER) or None
    return found


async def authenticate(gateway: Gateway, presented: str | None) -> str | None:
    """The id of the valid, unrevoked API key `presented`; None when absent or invalid."""
    if not presented:
        return None
    return await gateway.access.keys.verify(presented)


def origin_allowed(gateway: Gateway, origin: str | None) -> bool:
    """True when a request with this `Origin` header may use the API (MP_CORS_ORIGINS)."""
    return gateway.access.cors.origin_allowed(origin)
