"""The simulated market's clock: pure arithmetic on an anchor, no I/O.

Market time runs at `speed` market seconds per wall second from an anchor point:

    market_now = market_anchor + (wall_now - wall_anchor) * speed

`origin` is the market time the simulated price path was started from. It is fixed when the
clock is first anchored and survives every re-anchoring, because the simulator derives the
whole path from it: keeping it is what lets restarts and replicas produce the same prices.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field


class ClockAnchor(BaseModel):
    """One continuous stretch of market time, as stored in Redis (`keys.sim_clock_key`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    wall_anchor: float = Field(ge=0)
    market_anchor: float = Field(ge=0)
    speed: float = Field(gt=0)
    origin: int = Field(ge=0)


def first_anchor(wall_now: float, speed: float) -> ClockAnchor:
    """A fresh clock: market time starts at the wall time, so speed 1 simply is real time."""
    return ClockAnchor(
        wall_anchor=wall_now, market_anchor=wall_now, speed=speed, origin=int(wall_now)
    )


def market_time(anchor: ClockAnchor, wall_now: float) -> int:
    """Market time (whole epoch seconds) at `wall_now`.

    A wall clock behind the anchor (another host's skew) reads as the anchor itself, so
    market time never runs backwards across replicas.
    """
    elapsed = max(0.0, wall_now - anchor.wall_anchor)
    return math.floor(anchor.market_anchor + elapsed * anchor.speed)


def reanchored(anchor: ClockAnchor, wall_now: float, speed: float) -> ClockAnchor:
    """The same market continued at a new speed from `wall_now`: no jump in market time."""
    return ClockAnchor(
        wall_anchor=wall_now,
        market_anchor=anchor.market_anchor + max(0.0, wall_now - anchor.wall_anchor) * anchor.speed,
        speed=speed,
        origin=anchor.origin,
    )


def settled_anchor(stored: ClockAnchor | None, wall_now: float, speed: float) -> ClockAnchor:
    """The anchor a starting instance leaves in Redis.

    It joins the stored clock; a new MP_SIM_SPEED re-anchors it (market time continues, now
    at the new speed), and running replicas follow because they read the anchor every tick.
    """
    if stored is None:
        return first_anchor(wall_now, speed)
    if stored.speed != speed:
        return reanchored(stored, wall_now, speed)
    return stored
