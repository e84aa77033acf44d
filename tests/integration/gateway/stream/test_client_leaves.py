"""The Python client against a real gateway whose rate limit refuses its unsubscribe: the
gateway keeps the channel, and the client, seeing its frames go on past the grace period,
tells it again until it lets go. Without that, the connection carries a channel nobody reads
for as long as it lives, and it counts against the gateway's channel limit."""

from __future__ import annotations

import asyncio
import time

from marketpulse_client import MarketPulse
from marketpulse_client.book import STRAY_GRACE_S
from marketpulse_common.publisher import Publisher
from marketpulse_gateway.runtime import Tuning
from marketpulse_gateway.stream.limits import RateLimits
from tests.integration.gateway.conftest import publish_ticker
from tests.integration.gateway.ws_support import serve_stream
from tests.waiting import eventually

# Two messages at once, then one every 4 s: the third message in a row is refused, and the
# client's repeat after the grace period finds a token. Refusals never close the connection.
TIGHT = RateLimits(messages_per_s=0.25, message_burst=2, strikes=1000)


async def test_an_unsubscribe_the_gateway_refused_is_sent_again(
    redis_url: str, unique: str, publisher: Publisher
) -> None:
    await publish_ticker(publisher, unique, 1.0)
    left, kept, added = f"ticker:{unique}", f"sentiment:{unique}", f"candles:{unique}:5m"
    async with serve_stream(redis_url, unique, tuning=Tuning(ws_rates=TIGHT)) as gateway:
        hub = gateway.running.hub
        base_url = f"http://127.0.0.1:{gateway.port}"
        async with MarketPulse(base_url) as client:
            subs = {name: client.subscribe(name) for name in (left, kept)}  # message 1

            async def synced() -> bool:
                return all(sub.synced for sub in subs.values())

            async def refused() -> bool:
                return client.diagnostics().errors >= 1

            await eventually(synced, what="two channels subscribed")
            subs[added] = client.subscribe(added)  # message 2: the burst is spent
            await eventually(synced, what="a third channel subscribed")
            subs[left].unsubscribe()  # message 3: refused as rate_limited
            await eventually(refused, what="the refusal")
            refused_at = time.monotonic()
            assert hub.subscriber_count(left) == 1  # the gateway still holds it

            price = 2.0
            deadline = time.monotonic() + 4 * STRAY_GRACE_S
            while hub.subscriber_count(left) > 0:
                assert time.monotonic() < deadline, "the gateway still holds the channel left"
                await publish_ticker(publisher, unique, price)
                price += 1.0
                await asyncio.sleep(0.2)
            assert time.monotonic() - refused_at >= STRAY_GRACE_S / 2  # not before the grace
            assert client.diagnostics().unsubscribes_repeated >= 1
            assert (hub.subscriber_count(kept), hub.subscriber_count(added)) == (1, 1)
            assert client.value(left) is None
