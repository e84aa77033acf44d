"""A sentiment's ver grows whenever any of its indicator inputs was republished."""

from __future__ import annotations

from marketpulse_sentiment.version import version_of


def test_no_inputs_is_version_zero() -> None:
    """Nothing read → ver 0."""
    assert version_of([]) == 0


def test_the_same_positions_give_the_same_version() -> None:
    """Re-reading an unchanged cache gives an equal ver, so the publisher skips it."""
    assert version_of(["1000-0", "900-3"]) == version_of(["900-3", "1000-0"])


def test_a_later_publish_on_any_timeframe_raises_the_version() -> None:
    """A newer snapshot on any timeframe, even a slow one, gives a greater ver."""
    before = version_of(["1000-0", "400-0"])
    assert version_of(["1000-0", "1001-0"]) > before
    assert version_of(["1005-0", "400-0"]) > before


def test_a_second_publish_in_the_same_millisecond_raises_the_version() -> None:
    """5m and 1h windows both closing at 10:00 (same ms) still count as two changes."""
    first = version_of(["1000-0", "400-0"])
    second = version_of(["1000-0", "1000-0"])
    third = version_of(["1000-0", "1000-1"])
    assert first < second < third


def test_the_version_is_exact_as_a_double() -> None:
    """Lua compares ver as a double: today's values stay below 2**53."""
    ver = version_of(["1893456000000-5", "1893456000000-7"])  # 2030-01-01
    assert ver < 2**53
    assert float(ver) == ver
