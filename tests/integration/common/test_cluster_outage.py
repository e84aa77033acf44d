"""On a Redis Cluster, "no node can serve this now" is an outage like a refused connection,
for a pipeline as for a single command.

redis-py raises RedisClusterException (not a RedisError) when no known node answers discovery
or covers a slot; every loop and request path in the product catches RedisError. The gateway's
subscribe reads its history in a pipeline: left untranslated, the exception closed the whole
WebSocket (1011) instead of answering `unavailable`.
"""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from marketpulse_common.connection import create_redis
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_dev.embedded_redis import free_port
from marketpulse_gateway.errors import StoreUnavailable
from marketpulse_gateway.stream.history import StreamHistory


@pytest.fixture
def unreachable_cluster_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


async def test_a_command_to_an_unreachable_cluster_is_a_connection_error(
    unreachable_cluster_url: str,
) -> None:
    redis = create_redis(unreachable_cluster_url, cluster=True, retries=0)
    with pytest.raises(RedisConnectionError):
        await redis.get("k")
    await redis.aclose()


@pytest.mark.parametrize("transaction", [False, True])
async def test_a_pipeline_to_an_unreachable_cluster_is_a_connection_error(
    unreachable_cluster_url: str, transaction: bool
) -> None:
    redis = create_redis(unreachable_cluster_url, cluster=True, retries=0)

    async def one_get() -> None:
        pipe = redis.pipeline(transaction=transaction)
        pipe.get("{a}k")  # a transaction's commands find their slot as they are queued
        await pipe.execute()

    with pytest.raises(RedisConnectionError):
        await one_get()
    await redis.aclose()


async def test_a_subscribe_read_on_an_unreachable_cluster_is_store_unavailable(
    unreachable_cluster_url: str,
) -> None:
    redis = create_redis(unreachable_cluster_url, cluster=True, retries=0)
    history = StreamHistory(redis)
    with pytest.raises(StoreUnavailable):
        await history.read([(Channel(ChannelKind.TICKER, "bitcoin"), "1-0")], max_entries=5)
    await redis.aclose()
