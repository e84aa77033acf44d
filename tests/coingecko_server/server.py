"""A CoinGecko-compatible API on loopback: real HTTP, real response shapes, scripted faults.

`FakeCoinGecko` serves `/api/v3/coins/markets`, `/coins/{id}/ohlc`, `/coins/{id}/market_chart`
and `/coins/{id}/market_chart/range` from the deterministic market in market.py, following
CoinGecko's rules (granularity by `days` or range, OHLC stamped with close times, paid-only
`interval`, 365-day history for keyless and demo keys, key headers per plan).

Every request is recorded (arrival time, path, query, headers) before anything else, so a
test counts what reached the upstream. Faults are scripted per request (`fail_next`) or for
every request while an outage lasts (`go_down`): 429 with JSON or HTML bodies, with or
without Retry-After, 5xx, slow or hanging answers, malformed or arbitrary bodies.

It runs a ThreadingHTTPServer in a daemon thread: a slow answer sleeps in its own thread and
never holds up the test's event loop or other requests.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.coingecko_server import market

API_PREFIX = "/api/v3"
# Long and distinctive, so a leak into a log line or URL is found by a plain substring test.
DEMO_KEY = "CG-demo-test-key-7f3a9c1e5b2d4f6a8c0e"
PRO_KEY = "CG-pro-test-key-0a1b2c3d4e5f6a7b8c9d"
KEY_HEADERS = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}
OHLC_DAYS = {"1", "7", "14", "30", "90", "180", "365", "max"}
HISTORY_DAYS_WITHOUT_PRO = 365


@dataclass(frozen=True)
class Call:
    """One request as it arrived."""

    at: float  # wall clock, time.time()
    path: str  # without the /api/v3 prefix
    query: str
    headers: dict[str, str]

    @property
    def params(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.query).items()}


@dataclass(frozen=True)
class Fault:
    """What to answer instead of the normal response (or before it, when `passthrough`)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay_s: float = 0.0
    passthrough: bool = False  # wait `delay_s`, then answer normally


@dataclass
class _Script:
    fault: Fault
    remaining: int
    path_contains: str | None


class FakeCoinGecko:
    def __init__(
        self,
        *,
        plan: str = "public",
        api_key: str | None = None,
        ticker_period_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.plan = plan
        self.api_key = api_key if api_key is not None else _default_key(plan)
        self.ticker_period_s = ticker_period_s
        self.clock = clock
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._script: deque[_Script] = deque()
        self._outage: Fault | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeCoinGecko:
        handler = _handler_for(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def host(self) -> str:
        """The budget identity the ingestor derives from base_url."""
        return f"127.0.0.1:{self.port}"

    # -- what the tests read and script ----------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, path_contains: str) -> list[Call]:
        return [c for c in self.calls if path_contains in c.path]

    def fail_next(self, fault: Fault, *, times: int = 1, path_contains: str | None = None) -> None:
        """Answer the next `times` requests (whose path contains `path_contains`) with `fault`."""
        with self._lock:
            self._script.append(_Script(fault, times, path_contains))

    def go_down(self, fault: Fault) -> None:
        """Answer every request with `fault` until `come_back`."""
        with self._lock:
            self._outage = fault

    def come_back(self) -> None:
        with self._lock:
            self._outage = None

    def scripted_served(self) -> bool:
        """Whether every scripted fault has been answered."""
        with self._lock:
            return not self._script

    def clear_faults(self) -> None:
        """Forget scripted faults not yet served."""
        with self._lock:
            self._script.clear()

    # -- request handling (server threads) -------------------------------------------------

    def _record(self, call: Call) -> Fault | None:
        with self._lock:
            self._calls.append(call)
            if self._outage is not None:
                return self._outage
            for script in self._script:
                if script.path_contains is None or script.path_contains in call.path:
                    script.remaining -= 1
                    if script.remaining <= 0:
                        self._script.remove(script)
                    return script.fault
        return None

    def respond(self, call: Call) -> tuple[int, Any]:
        """The normal answer: (status, JSON-able body)."""
        denied = self._check_key(call)
        if denied is not None:
            return denied
        parts = call.path.strip("/").split("/")
        params = call.params
        now = self.clock()
        if parts == ["ping"]:
            return 200, {"gecko_says": "(V3) To the Moon!"}
        if parts == ["coins", "markets"]:
            ids = [i for i in params.get("ids", "").split(",") if i]
            return 200, [market.market_row(i, now, self.ticker_period_s) for i in ids]
        if len(parts) >= 3 and parts[0] == "coins":
            return self._coin(parts[1], parts[2:], params, now)
        return 404, {"error": "Not Found"}

    def _check_key(self, call: Call) -> tuple[int, Any] | None:
        header = KEY_HEADERS.get(self.plan)
        if header is None:
            return None
        if call.headers.get(header) != self.api_key:
            return 401, _error(10002, "API Key Missing")
        return None

    def _coin(
        self, asset: str, rest: list[str], params: dict[str, str], now: float
    ) -> tuple[int, Any]:
        if rest == ["ohlc"]:
            return self._ohlc(asset, params, now)
        if rest == ["market_chart"]:
            days = float(params.get("days", "1"))
            return 200, market.chart(asset, now - days * market.DAY, now, now)
        if rest == ["market_chart", "range"]:
            start, end = float(params["from"]), min(float(params["to"]), now)
            oldest = now - HISTORY_DAYS_WITHOUT_PRO * market.DAY
            if self.plan != "pro" and start < oldest - market.DAY:
                return 401, _error(10012, "Your request exceeds the allowed time range.")
            return 200, market.chart(asset, start, end, now)
        return 404, {"error": "coin endpoint not found"}

    def _ohlc(self, asset: str, params: dict[str, str], now: float) -> tuple[int, Any]:
        days_text = params.get("days", "")
        if days_text not in OHLC_DAYS:
            return 400, {"error": "invalid days"}
        days = 3650.0 if days_text == "max" else float(days_text)
        interval = params.get("interval")
        if interval is None:
            return 200, market.ohlc(asset, days, market.ohlc_size(days), now)
        if self.plan != "pro":
            return 401, _error(10005, "This request is limited to paid plan subscribers.")
        size = {"hourly": market.HOUR, "daily": market.DAY}.get(interval)
        if size is None or (interval == "hourly" and days > 90):
            return 400, {"error": "invalid interval"}
        return 200, market.ohlc(asset, days, size, now)


def _default_key(plan: str) -> str | None:
    return {"demo": DEMO_KEY, "pro": PRO_KEY}.get(plan)


def _error(code: int, message: str) -> dict[str, Any]:
    return {"status": {"error_code": code, "error_message": message}}


def _handler_for(server: FakeCoinGecko) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = parts.path.removeprefix(API_PREFIX)
            headers = {k.lower(): v for k, v in self.headers.items()}
            call = Call(at=time.time(), path=path, query=parts.query, headers=headers)
            fault = server._record(call)
            if fault is not None and fault.delay_s:
                time.sleep(fault.delay_s)
            if fault is None or fault.passthrough:
                status, body = server.respond(call)
                self._send(status, json.dumps(body).encode(), "application/json", {})
            else:
                self._send(fault.status, fault.body, fault.content_type, fault.headers)

        def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str]) -> None:
            try:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (a timeout test): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


def iter_windows(times: list[float], window_s: float) -> Iterator[tuple[float, int]]:
    """(start, count) of the window starting at each call."""
    ordered = sorted(times)
    last = 0
    for first, start in enumerate(ordered):
        while last < len(ordered) and ordered[last] < start + window_s:
            last += 1
        yield start, last - first
