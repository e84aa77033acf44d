"""CORS allowlist: exact, wildcard-subdomain and `*` entries; response and preflight headers."""

from __future__ import annotations

import pytest

from marketpulse_gateway.access.cors import CorsPolicy

POLICY = CorsPolicy(["https://app.example.com", "http://localhost:3000", "https://*.corp.io"])


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # not a cross-origin browser request
        ("https://app.example.com", True),
        ("HTTPS://APP.EXAMPLE.COM", True),  # scheme and host are case-insensitive
        ("https://app.example.com/", True),
        ("http://app.example.com", False),  # scheme matters
        ("https://app.example.com:8443", False),  # port matters
        ("https://evil.example.com", False),
        ("https://app.example.com.evil.io", False),
        ("http://localhost:3000", True),
        ("https://dash.corp.io", True),
        ("https://a.b.corp.io", True),
        ("https://corp.io", False),  # a wildcard covers subdomains, not the apex
        ("https://evilcorp.io", False),
        ("http://dash.corp.io", False),
        ("null", False),
    ],
)
def test_origin_allowed(origin: str | None, allowed: bool) -> None:
    """Only listed origins (and subdomains of wildcard entries) are allowed."""
    assert POLICY.origin_allowed(origin) is allowed


def test_star_allows_every_origin() -> None:
    """`*` allows any origin."""
    assert CorsPolicy(["*"]).origin_allowed("https://anything.example")


def test_empty_allowlist_allows_no_browser_origin() -> None:
    """With MP_CORS_ORIGINS empty no cross-origin browser request is allowed."""
    policy = CorsPolicy([])
    assert not policy.enabled
    assert not policy.origin_allowed("https://app.example.com")
    assert policy.origin_allowed(None)
    assert policy.response_headers("https://app.example.com") == []


def test_allowed_response_echoes_the_origin() -> None:
    """An allowed origin is echoed, ETag and Retry-After are exposed, caches vary by Origin."""
    headers = dict(POLICY.response_headers("https://app.example.com"))
    assert headers[b"access-control-allow-origin"] == b"https://app.example.com"
    assert headers[b"access-control-expose-headers"] == b"ETag, Retry-After"
    assert headers[b"vary"] == b"Origin"


def test_refused_response_has_no_allow_origin() -> None:
    """A refused origin gets no Access-Control-Allow-Origin (the browser blocks the read)."""
    assert POLICY.response_headers("https://evil.example.com") == [(b"vary", b"Origin")]
    assert POLICY.response_headers(None) == []


def test_preflight_allows_reads_with_our_headers() -> None:
    """A GET preflight asking for Authorization and X-API-Key is allowed."""
    headers = POLICY.preflight_headers("https://app.example.com", "GET", "Authorization, X-API-Key")
    assert headers is not None
    found = dict(headers)
    assert found[b"access-control-allow-origin"] == b"https://app.example.com"
    assert b"GET" in found[b"access-control-allow-methods"]
    assert found[b"access-control-allow-headers"] == b"authorization, x-api-key"
    assert int(found[b"access-control-max-age"]) > 0


@pytest.mark.parametrize(
    ("origin", "method", "request_headers"),
    [
        ("https://evil.example.com", "GET", None),
        ("https://app.example.com", "DELETE", None),
        ("https://app.example.com", "GET", "X-Custom"),
    ],
)
def test_preflight_refusals(origin: str, method: str, request_headers: str | None) -> None:
    """Unlisted origins, write methods and unknown headers fail the preflight."""
    assert POLICY.preflight_headers(origin, method, request_headers) is None
