"""Ready-made upstream misbehaviour for FakeCoinGecko.fail_next / go_down."""

from __future__ import annotations

import json

from tests.coingecko_server.server import Fault

_RATE_LIMIT_JSON = {
    "status": {
        "error_code": 429,
        "error_message": "You've exceeded the Rate Limit. Please visit "
        "https://www.coingecko.com/en/api/pricing to subscribe to our API plans.",
    }
}
# What a CDN in front of the API answers: HTML, not the API's JSON.
_RATE_LIMIT_HTML = b"""<!DOCTYPE html><html><head><title>429 Too Many Requests</title></head>
<body><h1>Too Many Requests</h1><p>Please slow down.</p></body></html>"""
_SERVER_ERROR_HTML = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"


def _retry_after(value: str | None) -> dict[str, str]:
    return {} if value is None else {"retry-after": value}


def rate_limited_json(retry_after: str | None = None) -> Fault:
    return Fault(429, json.dumps(_RATE_LIMIT_JSON).encode(), _retry_after(retry_after))


def rate_limited_html(retry_after: str | None = None) -> Fault:
    return Fault(429, _RATE_LIMIT_HTML, _retry_after(retry_after), content_type="text/html")


def server_error(status: int = 503, retry_after: str | None = None) -> Fault:
    return Fault(status, _SERVER_ERROR_HTML, _retry_after(retry_after), content_type="text/html")


def slow(delay_s: float) -> Fault:
    """The normal answer, late."""
    return Fault(delay_s=delay_s, passthrough=True)


def hang(delay_s: float) -> Fault:
    """No answer for `delay_s` (longer than the client's timeout)."""
    return Fault(delay_s=delay_s, body=b"[]")


def malformed_json() -> Fault:
    return Fault(200, b'{"prices": [[1711929600000, 70123.5], [17119')


def html_page() -> Fault:
    return Fault(200, b"<html><body>Just a moment...</body></html>", content_type="text/html")


def body(raw: bytes) -> Fault:
    return Fault(200, raw)
