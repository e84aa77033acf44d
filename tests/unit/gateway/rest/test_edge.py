"""The edge's pure parts: which headers it reads, whose budget a request is, its answers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from marketpulse_gateway.access.gatekeeper import client_subject
from marketpulse_gateway.metrics import GatewayMetrics, HistogramSeries
from marketpulse_gateway.rest.edge import _hit_messages, read_heads
from marketpulse_gateway.rest.envelope import ReadyBody

KEY = "mp_abcd1234_" + "x" * 43


def test_reads_only_the_headers_it_acts_on() -> None:
    """Known headers are picked (latin-1 decoded), others ignored."""
    heads = read_heads(
        [
            (b"host", b"example"),
            (b"if-none-match", b'W/"abc"'),
            (b"origin", b"https://app.example.com"),
            (b"authorization", b"Bearer " + KEY.encode()),
            (b"content-length", b"12"),
            (b"access-control-request-method", b"GET"),
        ]
    )
    assert heads.if_none_match == 'W/"abc"'
    assert heads.origin == "https://app.example.com"
    assert heads.api_key == KEY
    assert heads.preflight_method == "GET"
    assert not heads.body_too_large(12)
    assert heads.body_too_large(11)


def test_chunked_body_is_refused() -> None:
    """A body of unannounced length cannot be checked, and the API reads none: too large."""
    assert read_heads([(b"transfer-encoding", b"chunked")]).body_too_large(10**6)


@pytest.mark.parametrize("length", [b"-1", b"1e3", b"12, 12"])
def test_unreadable_content_length_is_refused(length: bytes) -> None:
    """A Content-Length that is not a plain number is treated as too large."""
    assert read_heads([(b"content-length", length)]).body_too_large(10**6)


@pytest.mark.parametrize(
    ("host", "subject"),
    [
        ("203.0.113.7", "ip:203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "ip:2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "ip:2001:db8:1:2::/64"),  # same /64, same budget
        ("::ffff:203.0.113.7", "ip:203.0.113.7"),
        (None, "ip:unknown"),
    ],
)
def test_client_subject(host: str | None, subject: str) -> None:
    """IPv4 clients by address, IPv6 clients by /64, v4-mapped addresses as IPv4."""
    assert client_subject(host) == subject


_METRICS = GatewayMetrics()


def _gateway(now: float) -> SimpleNamespace:
    return SimpleNamespace(
        clock=lambda: now, store=SimpleNamespace(reachable=True), metrics=_METRICS
    )


def _series(route: str, status: str) -> HistogramSeries:
    return _METRICS.request_duration.child((route, "GET", status))


def test_plain_answers_of_one_rendering_are_built_once() -> None:
    """Within one millisecond of age, plain 200s reuse the same ready ASGI messages."""
    ready = ReadyBody.build(b'{"price":1}', 1000.0, 60.0, "simulated")
    hit = (ready, "/v1/assets/{asset}/ticker")
    first = _hit_messages(_gateway(1001.0001), hit, None, [])  # type: ignore[arg-type]
    again = _hit_messages(_gateway(1001.0002), hit, None, [])  # type: ignore[arg-type]
    assert again is first
    start, body, series = first
    assert start["status"] == 200
    assert series is _series("/v1/assets/{asset}/ticker", "200")
    assert body["body"] == ready.render(1001.0001).body


def test_cors_answers_never_touch_the_shared_headers() -> None:
    """A response with CORS headers gets its own header list; the shared one is unchanged."""
    ready = ReadyBody.build(b'{"price":1}', 1000.0, 60.0, "simulated")
    hit = (ready, "/v1/assets/{asset}/ticker")
    cors = [(b"access-control-allow-origin", b"https://app.example.com")]
    plain = _hit_messages(_gateway(1001.0), hit, None, [])  # type: ignore[arg-type]
    with_cors = _hit_messages(_gateway(1001.0), hit, None, cors)  # type: ignore[arg-type]
    assert cors[0] in with_cors[0]["headers"]
    assert cors[0] not in plain[0]["headers"]


def test_matching_etag_is_304_without_body() -> None:
    """If-None-Match naming the current tag answers 304 with the tag and no body."""
    ready = ReadyBody.build(b'{"price":1}', 1000.0, 60.0, "simulated")
    etag = ready.render(1001.0).etag.decode()
    start, body, series = _hit_messages(  # type: ignore[arg-type]
        _gateway(1001.0), (ready, "/r"), f'"x", {etag}', []
    )
    assert (start["status"], body["body"]) == (304, b"")
    assert series is _series("/r", "304")
    assert (b"etag", etag.encode()) in start["headers"]
