"""The one way every service opens Redis.

Timeouts are explicit because a stalled socket must fail, not hang: every blocking stream read
uses at most MAX_BLOCK_MS, and the socket timeout sits well above it so a BLOCK never looks
like a dead connection. Transient connection errors are retried with jittered backoff; a
health check re-validates idle pooled connections after a Redis restart.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Longest BLOCK any consumer may use (ms). Short enough that a stop request is noticed fast.
MAX_BLOCK_MS = 2000
# Must exceed MAX_BLOCK_MS with margin for a slow reply under load.
SOCKET_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 3.0
# Connections idle longer than this are PINGed before use (catches a restarted Redis).
HEALTH_CHECK_INTERVAL_S = 15


def create_redis(url: str, *, client_name: str | None = None, retries: int = 3) -> Redis:
    """A decoded-string asyncio client with timeouts, retries and health checks."""
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
