"""Which Redis errors are a refusal (Redis up, one command refused) and which an outage."""

from __future__ import annotations

import pytest
from redis import exceptions as e

from marketpulse_common.connection import refused_by_redis


@pytest.mark.parametrize(
    "error",
    [
        e.OutOfMemoryError("OOM command not allowed when used memory > 'maxmemory'."),
        e.NoPermissionError("this user has no permissions to run the 'set' command"),
        e.ResponseError("ERR Error running script"),
    ],
)
def test_a_command_redis_refused_is_no_outage(error: Exception) -> None:
    assert refused_by_redis(error)


@pytest.mark.parametrize(
    "error",
    [
        e.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        e.TimeoutError("Timeout reading from socket"),
        e.BusyLoadingError("LOADING Redis is loading the dataset in memory"),
        e.ClusterDownError("CLUSTERDOWN The cluster is down"),
        e.MasterDownError("MASTERDOWN Link with MASTER is down"),
        e.TryAgainError("TRYAGAIN"),
        e.MovedError("3999 127.0.0.1:6381"),
        e.ReadOnlyError("READONLY You can't write against a read only replica."),
        OSError("network unreachable"),
    ],
)
def test_a_failover_or_a_lost_connection_is_an_outage(error: Exception) -> None:
    assert not refused_by_redis(error)
