"""The socket loop: connect, subscribe (resuming), read frames into the book, reconnect.

Everything that decides is elsewhere and pure (book.py, channel.py, backoff.py,
liveness.py); this module only moves frames and time. Per connection three tasks:

- the reader awaits each frame, hands it to the book and awaits the delivery of its update
  to the application, so a slow consumer slows the reader: the gateway then holds the
  backlog, and one too far behind is closed with 4008 and resumes like any dropped client;
- the writer sends the book's ops whenever it has some (on connect, after a resync);
- the watchdog drops a connection that stays silent for `missed` heartbeats.

How a connection ends decides what follows: 1008 (policy) and 1009 (a message of ours was
too big), or a handshake refused with 401/403/404, stop the stream with a typed error, since
trying again would be refused again; everything else (4008, 1001/1012 restarts, a dead or
broken connection, 429/5xx at the handshake) is retried with full-jitter backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from marketpulse_client.backoff import Backoff
from marketpulse_client.book import ChannelBook, Received, Signal
from marketpulse_client.errors import MarketPulseError, StreamStopped
from marketpulse_client.frames import CLOSE_ABNORMAL, CLOSE_NORMAL, CLOSE_POLICY, CLOSE_TOO_BIG
from marketpulse_client.liveness import ConnectionState, Liveness
from marketpulse_client.problems import problem_error

log = logging.getLogger("marketpulse_client")

# Server frames are small (a forecast with its explanation is a few KiB); this only stops a
# broken peer from making the client buffer without end.
MAX_FRAME_BYTES = 8 * 1024 * 1024
OPEN_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
# A subscribe refused for now (rate_limited, unavailable) is sent again after half of this to
# all of it, doubling with each refusal; an accepted subscribe starts it over.
RETRY_FIRST_S, RETRY_CAP_S = 1.0, 10.0
# Handshake answers that would be the same on every retry.
_FATAL_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 426})
_FATAL_CLOSES = {
    CLOSE_POLICY: "policy violation (refused after connecting, or too many refused messages)",
    CLOSE_TOO_BIG: "a message from this client was too big",
}

Deliver = Callable[[Received], Awaitable[None]]


class Stream:
    def __init__(
        self,
        ws_url: str,
        headers: Mapping[str, str],
        book: ChannelBook,
        deliver: Deliver,
        *,
        liveness: Liveness,
        backoff: Backoff,
        on_state: Callable[[ConnectionState], None],
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._url = ws_url
        self._headers = dict(headers)
        self._book = book
        self._deliver = deliver
        self._liveness = liveness
        self._backoff = backoff
        self._on_state = on_state
        self._connect_options = dict(connect_options or {})
        self._wake = asyncio.Event()
        self._hold_until = 0.0
        self._retry = Backoff(RETRY_FIRST_S, RETRY_CAP_S)
        self._waiting_since = 0.0
        self._in_recv = False
        self._dead = False
        self.state = ConnectionState.CONNECTING
        self.error: MarketPulseError | None = None

    def wake(self) -> None:
        """The book has ops to send (a channel was added or removed)."""
        self._wake.set()

    def stop(self, error: MarketPulseError) -> None:
        """Stop for good with `error` (kept if one is set). The reader stops after the
        delivery it is in, if any: the caller may be inside that delivery, and cancels the
        task running `run()` when it is not."""
        if self.error is None:
            self.error = error
        self._set_state(ConnectionState.CLOSED)

    async def run(self) -> None:
        """Connect and reconnect until cancelled or stopped for good (then `error` is set)."""
        try:
            while True:
                retry_after = await self._connect_once()
                if self.error is not None:
                    return
                if self._book.diagnostics.connects:  # else still connecting, as at first
                    self._set_state(ConnectionState.RECONNECTING)
                delay = self._backoff.next_delay(retry_after)
                log.info("stream reconnecting in %.2f s", delay)
                await asyncio.sleep(delay)
        finally:
            self._set_state(ConnectionState.CLOSED)

    async def _connect_once(self) -> float | None:
        """One connection, from handshake to its end; returns a Retry-After, if one was given."""
        try:
            ws = await connect(
                self._url,
                additional_headers=self._headers,
                # Liveness is the gateway's heartbeat; a library ping would also fail while
                # the application holds the reader, and close the connection for it.
                ping_interval=None,
                compression=None,
                max_size=MAX_FRAME_BYTES,
                open_timeout=OPEN_TIMEOUT_S,
                close_timeout=CLOSE_TIMEOUT_S,
                **self._connect_options,
            )
        except InvalidStatus as e:
            return self._refused(e)
        except (OSError, TimeoutError, WebSocketException) as e:
            log.info("stream connection failed: %s", e or type(e).__name__)
            return None
        opened = time.monotonic()
        self._book.diagnostics.connects += 1
        try:
            code, reason = await self._serve(ws)
        finally:
            self._book.connection_lost()
            with contextlib.suppress(Exception):
                await asyncio.shield(ws.close())
        self._backoff.connection_ended(time.monotonic() - opened)
        self._book.diagnostics.close_codes[code] += 1
        if code in _FATAL_CLOSES:
            self.error = StreamStopped(code, reason or _FATAL_CLOSES[code])
        else:
            log.info("stream connection closed (%s %s); resuming", code, reason)
        return None

    def _refused(self, e: InvalidStatus) -> float | None:
        response = e.response
        error = problem_error(response.status_code, response.headers, bytes(response.body or b""))
        if response.status_code in _FATAL_STATUSES:
            self.error = error
            return None
        log.info("stream handshake refused: %s", error)
        return error.retry_after

    async def _serve(self, ws: ClientConnection) -> tuple[int, str]:
        self._set_state(ConnectionState.LIVE)
        self._dead = False
        self._hold_until = 0.0
        self._retry.attempt = 0
        self._wake.set()  # subscribe every channel, resuming where possible
        writer = asyncio.create_task(self._write(ws), name="marketpulse-writer")
        watchdog = asyncio.create_task(self._watch(ws), name="marketpulse-watchdog")
        try:
            await self._read(ws)
        except ConnectionClosed as e:
            if self._dead:
                return CLOSE_ABNORMAL, "no heartbeat from the gateway"
            if e.rcvd is None:
                return CLOSE_ABNORMAL, "the connection ended without a close frame"
            return e.rcvd.code, e.rcvd.reason
        else:
            return CLOSE_NORMAL, "closed by the client"
        finally:
            writer.cancel()
            watchdog.cancel()
            await asyncio.gather(writer, watchdog, return_exceptions=True)

    async def _read(self, ws: ClientConnection) -> None:
        """Until the connection ends (ConnectionClosed) or the client stops."""
        book, deliver, clock = self._book, self._deliver, time.monotonic
        live = ConnectionState.LIVE
        while True:
            self._waiting_since = clock()
            self._in_recv = True
            text = await ws.recv()
            self._in_recv = False
            if self.state is not live:
                self._set_state(live)
            received = book.receive(text)
            if received.accepted:
                self._retry.attempt = 0
            if received.signal is not Signal.NONE:
                self._signal(received.signal)
            if received.error is not None:
                error = received.error
                log.warning("stream error frame: %s %s", error.code, error.message)
            if received.update is not None or received.failures or received.accepted:
                await deliver(received)
                if self.error is not None:  # a listener closed the client
                    return

    def _signal(self, signal: Signal) -> None:
        if signal is Signal.RETRY_LATER:
            # Equal jitter: never at once, and clients refused together spread out.
            ceiling = self._retry.ceiling()
            self._hold_until = time.monotonic() + (ceiling + self._retry.next_delay()) / 2
        self._wake.set()

    async def _write(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self._wake.wait()
                self._wake.clear()
                hold = self._hold_until - time.monotonic()
                if hold > 0:
                    await asyncio.sleep(hold)
                for op in self._book.take_ops():
                    await ws.send(op)

    async def _watch(self, ws: ClientConnection) -> None:
        liveness, clock = self._liveness, time.monotonic
        while True:
            await asyncio.sleep(liveness.check_every_s)
            if not self._in_recv:
                continue  # the application holds the reader: not the gateway's silence
            verdict = liveness.judge(clock() - self._waiting_since)
            if verdict is ConnectionState.CLOSED:
                log.warning("no frame from the gateway in %.0f s; reconnecting",
                            liveness.dead_after_s)  # fmt: skip
                self._dead = True
                ws.transport.abort()
                return
            if verdict is ConnectionState.STALE and self.state is ConnectionState.LIVE:
                self._set_state(ConnectionState.STALE)

    def _set_state(self, state: ConnectionState) -> None:
        if state is not self.state:
            self.state = state
            try:
                self._on_state(state)
            except Exception:
                log.exception("on_state callback failed")
