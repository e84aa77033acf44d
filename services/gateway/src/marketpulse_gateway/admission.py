"""What the doors (the edge for HTTP, the stream route for WebSocket) and the guards share.

A request presents an API key in `Authorization: Bearer <key>` or `X-API-Key: <key>`. A
WebSocket client may instead put it in the `api_key` query parameter, because browsers
cannot set headers on a WebSocket handshake; REST ignores that parameter, so keys do not end
up in URLs (and from there in proxy logs and browser history) for ordinary GETs.

A door asks an `Admission` whether the request may proceed and gets `None` or a `Denial`,
which it renders as problem+json. The guards behind it (API keys, rate limits, CORS) live
in access/; the doors know them only as these protocols.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

QUERY_PARAMETER = "api_key"
_BEARER = "bearer "

Header = tuple[bytes, bytes]


@dataclass(frozen=True, slots=True)
class Denial:
    """A refusal, rendered by the door as problem+json (problems.denial_response)."""

    status: int
    slug: str
    title: str
    detail: str
    headers: tuple[Header, ...] = ()


class OriginRules(Protocol):
    """Which browser origins may use the API, and the CORS headers that say so."""

    @property
    def enabled(self) -> bool:
        """False when no allowlist is configured: any page may connect."""
        ...

    def origin_allowed(self, origin: str | None) -> bool: ...

    def response_headers(self, origin: str | None) -> list[Header]: ...

    def preflight_headers(
        self, origin: str, method: str, request_headers: str | None
    ) -> list[Header] | None: ...


class Admission(Protocol):
    """Whether a request may proceed: API key (when presented or required) and rate limit."""

    @property
    def cors(self) -> OriginRules: ...

    def anonymous_admitted_now(self, client_host: str | None) -> bool:
        """`admitted_now` for a request without a key: the hot path's usual question."""
        ...

    def admitted_now(self, presented: str | None, client_host: str | None) -> bool:
        """True when memory alone admits the request (and it is charged); False when `admit`
        must decide."""
        ...

    async def admit(self, presented: str | None, client_host: str | None) -> Denial | None:
        """None when the request may proceed, else why not."""
        ...


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
