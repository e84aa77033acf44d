"""`MarketPulse`: the REST helpers and the live stream behind one object.

    async with MarketPulse("http://127.0.0.1:8000", api_key=...) as mp:
        ticker = await mp.ticker("bitcoin")
        sub = mp.subscribe("indicators:bitcoin:1h", print)
        async for update in mp.updates("ticker:bitcoin"):
            ...

The stream connects on the first subscription and holds one server subscription per channel
however many listeners share it. Listeners are called in order from the stream's reader; an
async callback is awaited before the next frame is read, so a consumer that cannot keep up
slows the stream rather than buffering without bound (a gateway that loses patience closes
with 4008, and the client resumes).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from marketpulse_client.backoff import Backoff
from marketpulse_client.book import ChannelBook, Received, Update
from marketpulse_client.diagnostics import Diagnostics
from marketpulse_client.errors import ClientClosed, MarketPulseError
from marketpulse_client.frames import check_channel
from marketpulse_client.liveness import HEARTBEAT_S, MISSED, ConnectionState, Liveness
from marketpulse_client.positions import PositionsJSON, dump_positions, load_positions
from marketpulse_client.rest import DEFAULT_TIMEOUT_S, Envelope, RestClient
from marketpulse_client.stream import Stream

log = logging.getLogger("marketpulse_client")

Callback = Callable[[Update], Awaitable[None] | None]
ErrorCallback = Callable[[MarketPulseError], None]
DEFAULT_URL = "http://127.0.0.1:8000"
# updates(): how many updates may wait for the consumer before the stream's reader waits.
UPDATES_BUFFER = 1000


class _Listener:
    __slots__ = ("active", "callback", "error", "on_error", "primed")

    def __init__(self, callback: Callback, on_error: ErrorCallback | None) -> None:
        self.callback = callback
        self.on_error = on_error
        self.primed = True
        # False once removed (unsubscribed or failed): a delivery under way skips it.
        self.active = True
        self.error: MarketPulseError | None = None


class Subscription:
    """One listener on one channel; `unsubscribe()` removes it (the last one ends the server
    subscription)."""

    def __init__(self, client: MarketPulse, channel: str, listener: _Listener) -> None:
        self.channel = channel
        self._client = client
        self._listener = listener
        self._active = True

    @property
    def error(self) -> MarketPulseError | None:
        """Why the gateway refused this channel or the whole stream, if it did."""
        return self._listener.error

    @property
    def value(self) -> Any:
        """The channel's current value (None before the first snapshot)."""
        return self._client.value(self.channel)

    @property
    def synced(self) -> bool:
        state = self._client._book.get(self.channel)
        return state is not None and state.synced

    def unsubscribe(self) -> None:
        if self._active:
            self._active = False
            self._client._remove(self.channel, self._listener)

    async def wait_synced(self) -> Any:
        """Wait until the channel holds a value from the gateway — a snapshot, or a resume
        from `resume_from` that the gateway accepted (bound it with `asyncio.timeout`);
        returns the value. Raises the subscription's error (ClientClosed after aclose)."""
        while True:
            if self.error is not None:
                raise self.error
            state = self._client._book.get(self.channel)
            if state is not None and state.confirmed:
                return self.value
            await self._client._changed.wait()


class MarketPulse:
    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        resume_from: Mapping[str, Any] | str | bytes | None = None,
        heartbeat_interval: float = HEARTBEAT_S,
        missed_heartbeats: int = MISSED,
        backoff: Backoff | None = None,
        on_state: Callable[[ConnectionState], None] | None = None,
        http: httpx.AsyncClient | None = None,
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        """`url`: the gateway's base URL (http or https; the stream uses ws or wss on it).
        `resume_from`: what `positions()` returned earlier (or its JSON), to resume from.
        `connect_options`: extra keyword arguments for `websockets.connect`."""
        self.url = url.rstrip("/")
        self._rest = RestClient(self.url, api_key=api_key, timeout=timeout, http=http)
        self._book = ChannelBook(load_positions(resume_from) if resume_from else None)
        self._listeners: dict[str, list[_Listener]] = {}
        self._changed = asyncio.Event()
        self._on_state = on_state
        headers = {"X-API-Key": api_key} if api_key else {}
        self._stream = Stream(
            stream_url(self.url),
            headers,
            self._book,
            self._deliver,
            liveness=Liveness(heartbeat_interval, missed_heartbeats),
            backoff=backoff or Backoff(rng=random.Random()),
            on_state=self._state_changed,
            connect_options=connect_options,
        )
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> MarketPulse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the stream (politely) and the HTTP client. Every subscription fails with
        `ClientClosed` (ending `updates()` iterators and `wait_synced()` waits), and the
        client stays closed: a later `subscribe` gets it as its error instead of opening a
        new connection. May be called from a listener: the stream then ends once that
        listener returns."""
        self._stream.stop(ClientClosed())
        current = asyncio.current_task()
        tasks = [t for t in (self._task, *self._tasks) if t is not None and t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        error = self._stream.error  # stop() keeps the first error, or sets ClientClosed
        assert error is not None
        for channel in list(self._listeners):
            self._fail(channel, error)
        await self._rest.aclose()

    # --- REST ----------------------------------------------------------------------------

    async def assets(self) -> Envelope:
        return await self._rest.assets()

    async def ticker(self, asset: str) -> Envelope:
        return await self._rest.ticker(asset)

    async def candles(self, asset: str, tf: str, limit: int | None = None) -> Envelope:
        return await self._rest.candles(asset, tf, limit)

    async def indicators(self, asset: str, tf: str) -> Envelope:
        return await self._rest.indicators(asset, tf)

    async def forecast(self, asset: str, tf: str) -> Envelope:
        return await self._rest.forecast(asset, tf)

    async def evaluation(self, asset: str, tf: str) -> Envelope:
        return await self._rest.evaluation(asset, tf)

    async def sentiment(self, asset: str) -> Envelope:
        return await self._rest.sentiment(asset)

    async def snapshot(self, asset: str, tf: str, limit: int | None = None) -> Envelope:
        return await self._rest.snapshot(asset, tf, limit)

    # --- stream --------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._stream.state

    @property
    def error(self) -> MarketPulseError | None:
        """Why the stream stopped for good (1008, 1009, a refused key, `ClientClosed` after
        `aclose()`), else None."""
        return self._stream.error

    def subscribe(
        self,
        channel: str,
        callback: Callback | None = None,
        *,
        on_error: ErrorCallback | None = None,
    ) -> Subscription:
        """Listen to `channel` (e.g. "indicators:bitcoin:1h"). `callback(update)` is called
        for every snapshot and delta applied, and once at once with the current value when
        the channel already holds one; it may be async. Subscribing twice to a channel
        shares one server subscription. ValueError for a name the gateway could not take
        (empty, over 96 characters)."""
        check_channel(channel)
        listener = _Listener(callback or _ignore, on_error)
        subscription = Subscription(self, channel, listener)
        if self._stream.error is not None:
            listener.error = self._stream.error
            return subscription
        state = self._book.add(channel)
        self._listeners.setdefault(channel, []).append(listener)
        if state.synced:
            listener.primed = False
            self._spawn(self._prime(channel, listener))
        self._ensure_running()
        self._stream.wake()
        return subscription

    async def updates(self, *channels: str, buffer: int = UPDATES_BUFFER) -> AsyncIterator[Update]:
        """Every update of `channels`, in order; unsubscribes when the iteration ends (use
        `contextlib.aclosing` to make that immediate after a `break`). Raises ChannelError
        or StreamStopped when the gateway refuses a channel or the stream for good."""
        queue: asyncio.Queue[Update | MarketPulseError] = asyncio.Queue(buffer)

        def failed(error: MarketPulseError) -> None:
            if queue.full():
                queue.get_nowait()  # the error matters more than one stale update
            queue.put_nowait(error)

        subs = [self.subscribe(ch, queue.put, on_error=failed) for ch in channels]
        try:
            for sub in subs:
                if sub.error is not None:
                    raise sub.error
            while True:
                item = await queue.get()
                if isinstance(item, MarketPulseError):
                    raise item
                yield item
        finally:
            for sub in subs:
                sub.unsubscribe()
            # The stream's reader may be waiting for room to hand over one more update:
            # free it, or no channel would be read again.
            while not queue.empty():
                queue.get_nowait()

    def value(self, channel: str) -> Any:
        state = self._book.get(channel)
        return state.value if state is not None else None

    def positions(self) -> PositionsJSON:
        """Every channel's `{epoch, seq, value}`, JSON-ready: store it, and pass it back as
        `MarketPulse(..., resume_from=...)` to resume where this client stopped."""
        return dump_positions(self._book.positions())

    def diagnostics(self) -> Diagnostics:
        """A copy of the stream's counters: frames applied, gaps, resyncs, resumes, closes."""
        return self._book.diagnostics.copy()

    # --- internals -----------------------------------------------------------------------

    def _ensure_running(self) -> None:
        if self._task is None or (self._task.done() and self._stream.error is None):
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="marketpulse-stream"
            )

    async def _run(self) -> None:
        await self._stream.run()
        error = self._stream.error
        if error is not None:
            log.error("stream stopped: %s", error)
            for channel in list(self._listeners):
                self._fail(channel, error)

    def _remove(self, channel: str, listener: _Listener) -> None:
        listeners = self._listeners.get(channel)
        if listeners is None or listener not in listeners:
            return
        listeners.remove(listener)
        listener.active = False
        if not listeners:
            del self._listeners[channel]
            self._book.remove(channel)
            self._stream.wake()

    async def _deliver(self, received: Received) -> None:
        update = received.update
        if update is not None:
            for listener in tuple(self._listeners.get(update.channel, ())):
                if listener.primed and listener.active:  # not removed by an earlier one
                    await _call(listener.callback, update)
        for failure in received.failures:
            self._fail(failure.channel, failure)
        self._changed.set()  # wakes wait_synced(), also for a resume accepted without frames
        self._changed.clear()

    async def _prime(self, channel: str, listener: _Listener) -> None:
        listener.primed = True
        state = self._book.get(channel)
        if state is None or not state.synced:
            return
        update = Update(channel, state.value, "snapshot", state.epoch, state.seq, None, state.value)
        await _call(listener.callback, update)

    def _fail(self, channel: str, error: MarketPulseError) -> None:
        listeners = self._listeners.pop(channel, [])
        self._book.remove(channel)
        for listener in listeners:
            listener.active = False
            listener.error = error
            if listener.on_error is not None:
                try:
                    listener.on_error(error)
                except Exception:  # an app's handler must not stop every other channel
                    log.exception("subscription error callback failed for %s", channel)
        self._changed.set()
        self._changed.clear()

    def _state_changed(self, state: ConnectionState) -> None:
        if self._on_state is not None:
            self._on_state(state)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def stream_url(base_url: str) -> str:
    """ws(s)://host/v1/stream for a gateway at http(s)://host."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/") + "/v1/stream"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


async def _call(callback: Callback, update: Update) -> None:
    try:
        result = callback(update)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("subscription callback failed for %s", update.channel)


def _ignore(_update: Update) -> None:
    return None
