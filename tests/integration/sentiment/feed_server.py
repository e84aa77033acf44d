"""News feeds on loopback: each path serves a fixed document, slowly or broken if asked."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

from tests.loopback import serving
from tests.unit.sentiment.inputs_factory import NOW


@dataclass(frozen=True)
class Feed:
    body: bytes
    status: int = 200
    drip_s: float = 0.0  # pause before each 16-byte piece: a server trickling its answer
    declare_length: bool = True  # send content-length (never while dripping)


def _slug(title: str) -> str:
    return hashlib.sha256(title.encode()).hexdigest()[:12]


def rss(*titles: str, published: datetime | None = NOW) -> Feed:
    """An RSS 2.0 feed of `titles` (undated items when `published` is None)."""
    date = f"<pubDate>{format_datetime(published)}</pubDate>" if published else ""
    items = "".join(
        f"<item><title>{escape(t)}</title><link>https://news.example/{_slug(t)}</link>{date}</item>"
        for t in titles
    )
    return Feed(f'<?xml version="1.0"?><rss><channel>{items}</channel></rss>'.encode())


def atom(*titles: str) -> Feed:
    entries = "".join(
        f'<entry><title>{escape(t)}</title><link href="https://atom.example/{n}"/>'
        f"<updated>{NOW.isoformat()}</updated></entry>"
        for n, t in enumerate(titles)
    )
    return Feed(f'<feed xmlns="http://www.w3.org/2005/Atom">{entries}</feed>'.encode())


class FeedServer:
    def __init__(self, feeds: dict[str, Feed]) -> None:
        self.feeds = feeds
        self.hits: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def _serve(self, path: str) -> Feed:
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1
        return self.feeds.get(path, Feed(b"not found", status=404))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                # The client may give up on a slow feed: nothing more to send then.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(server._serve(self.path))

            def _send(self, feed: Feed) -> None:
                self.send_response(feed.status)
                self.send_header("content-type", "application/rss+xml")
                if feed.declare_length and not feed.drip_s:
                    self.send_header("content-length", str(len(feed.body)))
                self.end_headers()
                if not feed.drip_s:
                    self.wfile.write(feed.body)
                    return
                for start in range(0, len(feed.body), 16):
                    time.sleep(feed.drip_s)
                    self.wfile.write(feed.body[start : start + 16])
                    self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler

    @contextmanager
    def running(self) -> Iterator[FeedServer]:
        with serving(self._server):
            yield self
