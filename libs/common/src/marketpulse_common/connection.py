"""The one way every service opens Redis.

Timeouts are explicit because a stalled socket must fail, not hang: every blocking stream read
uses at most MAX_BLOCK_MS, and the socket timeout sits well above it so a BLOCK never looks
like a dead connection. Transient connection errors are retried with jittered backoff; a
health check re-validates idle pooled connections after a Redis restart.

Two topologies, chosen here and nowhere else (`MP_REDIS_CLUSTER`):

- standalone (the default): `redis.asyncio.Redis`, exactly as before;
- Redis Cluster: `redis.asyncio.cluster.RedisCluster`, which follows MOVED/ASK, refreshes its
  slot map after a failover and retries connection errors, cluster-down and TRYAGAIN replies
  with the same bounded backoff. It speaks the same commands, so the rest of the code keeps
  its `Redis` annotations; the few places that span several slots (a blocking read over many
  streams) split their keys with `slot_groups`, which is a no-op on standalone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import (
    AskError,
    ClusterDownError,
    ClusterError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Everything redis-py raises about Redis (a Redis Cluster client's "no node can serve this"
# is a RedisClusterException, which is not a RedisError): what a loop that waits out an
# outage, or a startup that reports one, catches.
REDIS_ERRORS = (RedisError, RedisClusterException)


# A reply in which Redis, up and answering, refused one command: out of memory under
# `noeviction`, an ACL, a script error. Not an outage (the next PING succeeds), but a fault
# to report as itself. The cluster's and a failover's refusals (CLUSTERDOWN, TRYAGAIN,
# MOVED/ASK, READONLY from a demoted master) are outages and are not counted here.
def refused_by_redis(error: BaseException) -> bool:
    return isinstance(error, ResponseError) and not isinstance(
        error, ClusterError | AskError | TryAgainError | ReadOnlyError
    )


# Longest BLOCK any consumer may use (ms). Short enough that a stop request is noticed fast.
MAX_BLOCK_MS = 2000
# Must exceed MAX_BLOCK_MS with margin for a slow reply under load.
SOCKET_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 3.0
# Connections idle longer than this are PINGed before use (catches a restarted Redis).
HEALTH_CHECK_INTERVAL_S = 15


def create_redis(
    url: str, *, client_name: str | None = None, retries: int = 3, cluster: bool = False
) -> Redis:
    """A decoded-string asyncio client with timeouts, retries and health checks.

    `cluster=True`: `url` names any node of a Redis Cluster; the client discovers the rest.
    """
    if cluster:
        return _create_cluster(url, client_name=client_name, retries=retries)
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_keepalive=True,
        health_check_interval=HEALTH_CHECK_INTERVAL_S,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        client_name=client_name,
    )


def _create_cluster(url: str, *, client_name: str | None, retries: int) -> Redis:
    # The same bounded retries as standalone, not enough to wait out a whole failover: the
    # gateway must answer from memory meanwhile, and every worker loop already backs off and
    # carries on by itself (a failover takes about node timeout + 1 s).
    client = _ClusterClient.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_keepalive=True,
        health_check_interval=HEALTH_CHECK_INTERVAL_S,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries),
        retry_on_error=[RedisConnectionError, RedisTimeoutError, ClusterDownError, TryAgainError],
        # Slots of a live master stay usable while another master fails over.
        require_full_coverage=False,
        client_name=client_name,
    )
    # Same command surface (both are built from redis-py's command mixins); the few
    # differences that matter are handled where they arise (see `slot_groups`).
    return cast(Redis, client)


class _ClusterClient(RedisCluster):
    """RedisCluster whose "no node can serve this now" failures are connection errors.

    redis-py raises RedisClusterException (not a RedisError) when no known node covers a slot
    or none answers discovery: during a failover both are outages like a refused connection,
    and every retry loop and request path in the product already knows what to do with one of
    those. The same holds for its pipelines.
    """

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_command(*args, **kwargs)
        except RedisClusterException as e:
            raise _as_outage(e) from e

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # refused, as redis-py refuses it
        return _ClusterPipeline(self, transaction)  # type: ignore[abstract]  # as redis-py's


class _ClusterPipeline(ClusterPipeline):
    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        # A transaction's commands find their slot as they are queued, discovery included.
        try:
            return super().execute_command(*args, **kwargs)
        except RedisClusterException as e:
            raise _as_outage(e) from e

    async def execute(
        self, raise_on_error: bool = True, allow_redirections: bool = True
    ) -> list[Any]:
        try:
            return await super().execute(raise_on_error, allow_redirections)
        except RedisClusterException as e:
            raise _as_outage(e) from e


def _as_outage(error: RedisClusterException) -> Exception:
    """A connection error for "no node can serve this now"; any other cluster error (e.g.
    keys of several slots in one command: a bug) unchanged."""
    if isinstance(error, SlotNotCoveredError):
        return RedisConnectionError(f"cluster slot not served yet: {error}")
    if "cannot be connected" in str(error):
        return RedisConnectionError(str(error))
    return error


def is_cluster(redis: Redis) -> bool:
    # Typed as Redis everywhere (see `_create_cluster`); the object may be a RedisCluster.
    return isinstance(cast(object, redis), RedisCluster)


def slot_groups(redis: Redis, keys: Sequence[str]) -> list[list[str]]:
    """`keys` split so that each group may go into one multi-key command.

    Standalone: one group, in the given order (no extra work on the hot path). Cluster: one
    group per hash slot, each in the given order; keys of one asset share a slot through
    their `{asset}` hash tag, so a group is one asset's keys.
    """
    client = cast(object, redis)
    if not isinstance(client, RedisCluster):
        return [list(keys)]
    groups: dict[int, list[str]] = {}
    for key in keys:
        groups.setdefault(client.keyslot(key), []).append(key)
    return list(groups.values())
