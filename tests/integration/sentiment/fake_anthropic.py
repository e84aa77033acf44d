"""A local, scriptable Anthropic Messages API: real HTTP on loopback, real response shapes.

The real SDK talks to it through `base_url` (or ANTHROPIC_BASE_URL in a child process).
Each `POST /v1/messages` is answered by the next scripted reply, or by the responder when
the script is empty; every request body is recorded, so tests count calls at the server.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from marketpulse_sentiment.contract import TOOL_NAME
from tests.loopback import serving

# Long and distinctive, so a leak into any log line would be found by a plain substring test.
API_KEY = "sk-ant-test-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, or raw bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def tool_reply(tool_input: Any, *, input_tokens: int = 900, output_tokens: int = 120) -> Reply:
    """A Messages response whose only block is a call of the sentiment tool."""
    return Reply(
        body={
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": "claude-fake",
            "content": [
                {"type": "tool_use", "id": "toolu_fake", "name": TOOL_NAME, "input": tool_input}
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
    )


def text_reply(text: str) -> Reply:
    """A Messages response where the model wrote text instead of calling the tool."""
    return Reply(
        body={
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": "claude-fake",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 900, "output_tokens": 40},
        }
    )


def error_reply(status: int, kind: str, *, retry_after: str | None = None) -> Reply:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    body = {"type": "error", "error": {"type": kind, "message": f"fake {kind}"}}
    return Reply(status=status, body=body, headers=headers)


RATE_LIMITED = error_reply(429, "rate_limit_error", retry_after="0.05")
OVERLOADED = error_reply(529, "overloaded_error")


def user_text(request: dict[str, Any]) -> str:
    content = request["messages"][-1]["content"]
    return content if isinstance(content, str) else json.dumps(content)


def headlines_in(request: dict[str, Any]) -> list[str]:
    """The headlines a request carried (one JSON string per line inside <headlines>)."""
    text = user_text(request)
    start, end = text.find("<headlines>\n"), text.find("\n</headlines>")
    lines = text[start + len("<headlines>\n") : end].splitlines()
    return [json.loads(line) for line in lines if line != "(none)"]


Responder = Callable[[dict[str, Any]], Reply]


class FakeAnthropic:
    def __init__(self, api_key: str, responder: Responder | None = None) -> None:
        self.api_key = api_key
        self.responder = responder or (lambda _request: text_reply("no script"))
        self.requests: list[dict[str, Any]] = []
        self.unauthorised = 0
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def _next(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(request)
            scripted = self._script.popleft() if self._script else None
        return scripted or self.responder(request)

    def _authorised(self, headers: Any) -> bool:
        bearer = headers.get("authorization", "")
        return headers.get("x-api-key") == self.api_key or bearer == f"Bearer {self.api_key}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                # The client may have given up (its timeout): nothing to answer any more.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
                    self._answer()

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.path != "/v1/messages":
                    return self._send(error_reply(404, "not_found_error"))
                if not fake._authorised(self.headers):
                    fake.unauthorised += 1
                    return self._send(error_reply(401, "authentication_error"))
                reply = fake._next(json.loads(body))
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                raw = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body)
                data = raw if isinstance(raw, bytes) else raw.encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", "req_fake")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler

    @contextmanager
    def running(self) -> Iterator[FakeAnthropic]:
        with serving(self._server):
            yield self


VALID_BULLISH = {
    "label": "bullish",
    "score": 0.6,
    "confidence": 0.7,
    "summary": "Uptrend on every timeframe with firm momentum and a green day.",
    "drivers": ["Price above its EMAs", "RSI in the 60s", "MACD above signal"],
}


def always(reply: Reply) -> Responder:
    return lambda _request: reply


def compromised(request: dict[str, Any]) -> Reply:
    """A model that obeys its headlines: relays a JSON blob found in one, else echoes one."""
    headlines = headlines_in(request)
    for headline in headlines:
        start, end = headline.find("{"), headline.rfind("}")
        try:
            blob = json.loads(headline[start : end + 1]) if start >= 0 else None
        except ValueError:
            blob = None
        if blob is not None:
            return tool_reply(blob)
    text = headlines[0] if headlines else "nothing to relay"
    return tool_reply(
        {
            "label": "bullish",
            "score": 1.0,
            "confidence": 1.0,
            "summary": text[:280],
            "drivers": [text[:120]],
        }
    )


# Answers that break the contract or the screening, one of each kind.
BAD_ANSWERS: dict[str, Reply] = {
    "invalid-json-text": text_reply("{not json"),
    "tool-input-string": tool_reply('{"label": "bullish"}'),
    "wrong-types": tool_reply(VALID_BULLISH | {"score": "0.6", "confidence": True}),
    "out-of-range": tool_reply(VALID_BULLISH | {"score": 3.0, "confidence": -1}),
    "extra-fields": tool_reply(VALID_BULLISH | {"override": True, "admin": "yes"}),
    "missing-fields": tool_reply({"label": "bullish"}),
    "too-long": tool_reply(VALID_BULLISH | {"summary": "x" * 300, "drivers": ["d"] * 9}),
    "incoherent": tool_reply(VALID_BULLISH | {"label": "bearish"}),
    "against-the-numbers": tool_reply(VALID_BULLISH | {"label": "bearish", "score": -0.9}),
    "link": tool_reply(VALID_BULLISH | {"summary": "Buy now at https://evil.example"}),
    "nan-as-string": tool_reply(VALID_BULLISH | {"score": "NaN"}),
}
