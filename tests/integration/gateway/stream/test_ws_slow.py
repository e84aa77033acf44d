"""Backpressure: a client that stops reading is closed with 4008 and delays no one else."""

from __future__ import annotations

import asyncio
import time

import pytest

from marketpulse_common.events import Indicators
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import Publisher
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.runtime import Tuning
from tests.integration.gateway.conftest import wait_until
from tests.integration.gateway.ws_support import (
    ChannelState,
    RawClient,
    StreamGateway,
    serve_stream,
    subscribe,
    ws_connect,
)

pytestmark = pytest.mark.redis

# The smallest queue MP_WS_QUEUE_BYTES allows, so a stalled client overflows quickly.
QUEUE_BYTES = 16_384
# Values of ~6 KiB whose every field changes: each delta is about that big.
FIELDS = 250
MAX_PUBLISHES = 3000


def dropped_slow(gateway: StreamGateway) -> float:
    metric = gateway.running.metrics.ws_clients_dropped.labels("slow")
    return float(metric._value.get())


class Pourer:
    """Publishes large indicator values on one channel and remembers their seqs."""

    def __init__(self, publisher: Publisher, indicators: Indicators) -> None:
        self.publisher = publisher
        self.indicators = indicators
        self.channel = Channel(ChannelKind.INDICATORS, indicators.asset, Timeframe.H1)
        self.seqs: list[str] = []

    async def publish(self) -> None:
        n = len(self.seqs)
        values: dict[str, float | None] = {f"v{i}": float(n * FIELDS + i) for i in range(FIELDS)}
        value = self.indicators.model_copy(update={"values": values})
        published = await self.publisher.publish(self.channel, value)
        assert published is not None
        self.seqs.append(published.seq)

    async def until(self, done: object, gateway: StreamGateway) -> None:
        """Publish until `dropped_slow` rises (the server gave up on the stalled client)."""
        while dropped_slow(gateway) < 1:
            assert len(self.seqs) < MAX_PUBLISHES, "the stalled client was never dropped"
            await self.publish()


async def stalled_client(gateway: StreamGateway, channel: str) -> RawClient:
    """A client subscribed to `channel` that reads nothing until told to (blocking socket
    calls run in a thread: the server shares this event loop)."""

    def connect() -> RawClient:
        raw = RawClient(gateway.port)
        raw.send_text(f'{{"op":"subscribe","channels":["{channel}"]}}')
        return raw

    return await asyncio.to_thread(connect)


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "queued"])
async def test_stalled_client_is_dropped_while_others_receive_everything(
    redis_url: str, unique: str, publisher: Publisher, indicators: Indicators, direct: bool
) -> None:
    """A client that stops reading is closed with 4008 once its queue overflows; the others
    get every update, in order, meanwhile and after."""
    pourer = Pourer(publisher, indicators)
    await pourer.publish()
    async with serve_stream(
        redis_url,
        unique,
        direct=direct,
        tuning=Tuning(ws_close_grace_s=30.0),
        ws_queue_bytes=QUEUE_BYTES,
        ws_max_channels=10,
    ) as gateway:
        name = f"indicators:{unique}:1h"
        async with ws_connect(gateway.ws_url) as a, ws_connect(gateway.ws_url) as b:
            states = [(await subscribe(ws, name))[1] for ws in (a, b)]
            raw = await stalled_client(gateway, name)
            try:
                await pourer.until(dropped_slow, gateway)
                for _ in range(20):  # the others carry on after the drop
                    await pourer.publish()
                for ws, state in zip((a, b), states, strict=True):
                    await state.follow_until(ws, pourer.seqs[-1], timeout=30)
                    assert state.seqs == pourer.seqs[pourer.seqs.index(state.seqs[0]) :]
                frames, code = await asyncio.to_thread(raw.read_until_close, 30.0)
            finally:
                raw.close()
    assert code == 4008
    # What it did receive before the cut is a clean prefix: snapshot, then chained deltas.
    seen = ChannelState()
    for frame in frames[1:]:
        seen.apply(frame)
    assert seen.seqs == pourer.seqs[pourer.seqs.index(seen.seqs[0]) :][: len(seen.seqs)]


async def test_a_client_that_never_reads_again_is_cut_off_after_the_grace(
    redis_url: str, unique: str, publisher: Publisher, indicators: Indicators
) -> None:
    """The direct socket aborts a dropped client that does not read its close within the
    grace, freeing its buffer; the server holds no connection for it afterwards."""
    pourer = Pourer(publisher, indicators)
    await pourer.publish()
    async with serve_stream(
        redis_url, unique, tuning=Tuning(ws_close_grace_s=0.3), ws_queue_bytes=QUEUE_BYTES
    ) as gateway:
        raw = await stalled_client(gateway, f"indicators:{unique}:1h")
        try:
            await wait_until(lambda: gateway.open_connections == 1)
            await pourer.until(dropped_slow, gateway)
            dropped_at = time.monotonic()
            await wait_until(lambda: gateway.open_connections == 0, timeout=10)
            assert time.monotonic() - dropped_at >= 0.2
        finally:
            raw.close()
