"""What a stream consumer reports to Prometheus (served by each worker on MP_METRICS_PORT):
dead letters as it writes them, and its group's backlog per stream as Redis counts it.

The backlog gauges are the group's, not the replica's: every replica of a worker reports the
same numbers, so aggregate them with max(), never sum().
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Gauge

DEAD_LETTERS = Counter(
    "marketpulse_consumer_dead_letters",
    "Entries this replica moved to the dead-letter stream (poison, or delivered too often).",
    ["group"],
)
LAG = Gauge(
    "marketpulse_consumer_lag_entries",
    "Entries of a stream not yet delivered to the consumer group (XINFO GROUPS `lag`).",
    ["group", "stream"],
)
PENDING = Gauge(
    "marketpulse_consumer_pending_entries",
    "Entries delivered to the consumer group and not yet acknowledged.",
    ["group", "stream"],
)


def record_backlog(group: str, stream: str, info: Mapping[str, object]) -> None:
    """Set the gauges from one XINFO GROUPS record of `group` (`lag` is absent before Redis
    7.0 and null when Redis cannot tell, e.g. after entries were deleted: kept as it was)."""
    lag, pending = info.get("lag"), info.get("pending")
    if isinstance(lag, int):
        LAG.labels(group, stream).set(lag)
    if isinstance(pending, int):
        PENDING.labels(group, stream).set(pending)
