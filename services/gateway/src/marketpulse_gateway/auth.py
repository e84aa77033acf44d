"""Where a request presents its API key, for REST and WebSocket alike.

Keys travel in `Authorization: Bearer <key>` or `X-API-Key: <key>`. A WebSocket client may
instead put it in the `api_key` query parameter, because browsers cannot set headers on a
WebSocket handshake; REST ignores that parameter, so keys do not end up in URLs (and from
there in proxy logs and browser history) for ordinary GETs. Whether the key is valid is
access.py's question.
"""

from __future__ import annotations

from collections.abc import Mapping

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
