"""Which browser origins may use the API (MP_CORS_ORIGINS), and the CORS headers that say so.

Pure: the edge asks it for every request that carries `Origin`, the WebSocket route asks
`origin_allowed` before accepting. Entries are exact origins (`https://app.example.com`),
`*` (any origin), or a wildcard host (`https://*.example.com`: any subdomain, not the apex).

A request without `Origin` did not come from a browser's cross-origin fetch, so CORS has
nothing to say about it: it is allowed (API keys and rate limits still apply). Allowed
origins are echoed back rather than answered with `*`, with `Vary: Origin`, so shared caches
keep one copy per origin.
"""

from __future__ import annotations

from collections.abc import Iterable

from marketpulse_gateway.admission import Header

# The API is read-only: a browser never needs anything but these.
# What the routes answer (they answer HEAD with 405, so a preflight for it is refused).
ALLOWED_METHODS = frozenset({"GET", "OPTIONS"})
ALLOWED_HEADERS = frozenset({"authorization", "x-api-key", "if-none-match", "content-type"})
# Script may read these from a response (they are not CORS-safelisted).
EXPOSED_HEADERS = b"ETag, Retry-After"
# Browsers cap this anyway (Chrome at 2 h); 10 min keeps a changed allowlist effective soon.
PREFLIGHT_MAX_AGE_S = 600

_VARY = (b"vary", b"Origin")


class CorsPolicy:
    __slots__ = ("_any", "_exact", "_wildcards", "enabled")

    def __init__(self, origins: Iterable[str]) -> None:
        normalized = [_normalize(origin) for origin in origins]
        self._any = "*" in normalized
        self._exact = frozenset(o for o in normalized if "*" not in o)
        self._wildcards = tuple(_wildcard(o) for o in normalized if o.count("://*.") == 1)
        self.enabled = bool(normalized)

    def origin_allowed(self, origin: str | None) -> bool:
        """True when `origin` may use the API; a request without one is not a CORS request."""
        if origin is None:
            return True
        origin = _normalize(origin)
        if self._any or origin in self._exact:
            return True
        scheme, sep, host = origin.partition("://")
        return bool(sep) and any(
            scheme == w_scheme and host.endswith(suffix) and len(host) > len(suffix)
            for w_scheme, suffix in self._wildcards
        )

    def response_headers(self, origin: str | None) -> list[Header]:
        """Headers to add to an actual response for a request with this `Origin`."""
        if origin is None or not self.enabled:
            return []
        if not self.origin_allowed(origin):
            return [_VARY]
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", EXPOSED_HEADERS),
            _VARY,
        ]

    def preflight_headers(
        self, origin: str, method: str, request_headers: str | None
    ) -> list[Header] | None:
        """Headers of a successful preflight answer; None when the preflight is refused."""
        if not self.enabled or not self.origin_allowed(origin):
            return None
        if method.upper() not in ALLOWED_METHODS:
            return None
        wanted = [h.strip().lower() for h in (request_headers or "").split(",") if h.strip()]
        if any(h not in ALLOWED_HEADERS for h in wanted):
            return None
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", ", ".join(sorted(ALLOWED_METHODS)).encode()),
            (b"access-control-allow-headers", ", ".join(wanted).encode()),
            (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_S).encode()),
            _VARY,
        ]


def _normalize(origin: str) -> str:
    # Scheme and host are case-insensitive; a trailing slash is a common copy-paste slip.
    return origin.strip().lower().rstrip("/")


def _wildcard(pattern: str) -> tuple[str, str]:
    scheme, _, host = pattern.partition("://")
    return scheme, host[1:]  # "*.example.com" → ".example.com"
