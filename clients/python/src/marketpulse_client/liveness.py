"""Connection states and the heartbeat rule that decides when a quiet connection is dead. Pure.

The gateway sends a heartbeat every 15 s, so a connection that has been silent for longer
than that has missed one (`stale`: the values on screen may be behind), and one silent for
`missed` heartbeats is dead and is replaced, however healthy the TCP socket looks: a
half-open connection (a NAT or proxy that dropped it) can look fine for many minutes. Time the
client spends in its own callbacks is not silence: a stall of our own making is ours to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

HEARTBEAT_S = 15.0  # the gateway's interval (DESIGN §7)
MISSED = 2


class ConnectionState(StrEnum):
    CONNECTING = "connecting"  # the first connection is being opened
    LIVE = "live"  # connected, and the gateway was heard from within a heartbeat
    STALE = "stale"  # connected, but a heartbeat is overdue
    RECONNECTING = "reconnecting"  # the connection was lost; waiting or trying again
    CLOSED = "closed"  # stopped by the application, or for good by the gateway


@dataclass(frozen=True, slots=True)
class Liveness:
    heartbeat_s: float = HEARTBEAT_S
    missed: int = MISSED

    def __post_init__(self) -> None:
        if self.heartbeat_s <= 0 or self.missed < 1:
            raise ValueError("heartbeat_s must be > 0 and missed >= 1")

    @property
    def stale_after_s(self) -> float:
        # A little slack: a heartbeat that is a few ms late is not a missed one.
        return self.heartbeat_s * 1.2

    @property
    def dead_after_s(self) -> float:
        return self.heartbeat_s * self.missed

    @property
    def check_every_s(self) -> float:
        return min(1.0, self.heartbeat_s / 5)

    def judge(self, silent_s: float) -> ConnectionState:
        """LIVE, STALE, or CLOSED (dead: drop the connection) after `silent_s` of silence."""
        if silent_s > self.dead_after_s:
            return ConnectionState.CLOSED
        if silent_s > self.stale_after_s:
            return ConnectionState.STALE
        return ConnectionState.LIVE
