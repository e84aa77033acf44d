"""The simulated market clock: anchor arithmetic and how a starting instance settles it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from marketpulse_ingestor.simulated.clock import (
    ClockAnchor,
    first_anchor,
    market_time,
    reanchored,
    settled_anchor,
)

WALL = 1_700_000_000.25


def test_a_first_anchor_starts_market_time_at_the_wall_time() -> None:
    """A fresh clock reads the wall time at its anchor, and its origin is that second."""
    anchor = first_anchor(WALL, speed=300)
    assert market_time(anchor, WALL) == int(WALL)
    assert anchor.origin == int(WALL)


def test_market_time_runs_at_speed_market_seconds_per_wall_second() -> None:
    """market_now = market_anchor + elapsed wall seconds × speed, floored to a second."""
    anchor = ClockAnchor(wall_anchor=1000.0, market_anchor=5000.0, speed=3600, origin=5000)
    assert market_time(anchor, 1000.5) == 5000 + 1800
    assert market_time(anchor, 1002.0) == 5000 + 7200


def test_speed_one_is_real_time() -> None:
    """At speed 1 market time advances exactly with the wall clock."""
    anchor = first_anchor(WALL, speed=1)
    assert market_time(anchor, WALL + 61) == int(WALL) + 61


def test_a_wall_clock_behind_the_anchor_reads_the_anchor() -> None:
    """Another host's clock skewed behind the anchor never moves market time backwards."""
    anchor = ClockAnchor(wall_anchor=1000.0, market_anchor=5000.0, speed=60, origin=5000)
    assert market_time(anchor, 990.0) == 5000


def test_reanchoring_keeps_market_time_continuous_and_the_origin() -> None:
    """A new speed takes over from the current market time; the price path's origin stays."""
    old = ClockAnchor(wall_anchor=1000.0, market_anchor=5000.0, speed=60, origin=4000)
    new = reanchored(old, 1010.0, speed=3600)
    assert market_time(new, 1010.0) == market_time(old, 1010.0) == 5600
    assert market_time(new, 1011.0) == 5600 + 3600
    assert new.origin == 4000


def test_a_starting_instance_creates_the_clock_when_none_is_stored() -> None:
    """No stored anchor: the instance anchors a fresh clock at its speed."""
    assert settled_anchor(None, WALL, 300) == first_anchor(WALL, 300)


def test_a_starting_instance_joins_a_clock_at_the_same_speed() -> None:
    """A stored anchor at the configured speed is used unchanged (restart, second replica)."""
    stored = ClockAnchor(wall_anchor=1000.0, market_anchor=5000.0, speed=300, origin=5000)
    assert settled_anchor(stored, WALL, 300) is stored


def test_a_starting_instance_with_another_speed_reanchors_continuously() -> None:
    """A changed MP_SIM_SPEED re-anchors without a jump in market time."""
    stored = ClockAnchor(wall_anchor=1000.0, market_anchor=5000.0, speed=300, origin=5000)
    settled = settled_anchor(stored, 1002.0, 1)
    assert settled.speed == 1
    assert market_time(settled, 1002.0) == market_time(stored, 1002.0)
    assert settled.origin == stored.origin


def test_the_anchor_round_trips_through_json() -> None:
    """What one replica stores, another reads back identically."""
    anchor = first_anchor(WALL, 3600)
    assert ClockAnchor.model_validate_json(anchor.model_dump_json()) == anchor


def test_a_malformed_anchor_is_rejected() -> None:
    """A zero speed or unknown field in the stored anchor fails validation."""
    with pytest.raises(ValidationError):
        ClockAnchor.model_validate_json(
            '{"wall_anchor": 1, "market_anchor": 1, "speed": 0, "origin": 1}'
        )
    with pytest.raises(ValidationError):
        ClockAnchor.model_validate_json(
            '{"wall_anchor": 1, "market_anchor": 1, "speed": 1, "origin": 1, "x": 2}'
        )
