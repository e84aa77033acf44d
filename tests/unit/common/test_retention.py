"""The trim point never passes work a consumer group still holds."""

from __future__ import annotations

from marketpulse_common.retention import safe_trim_point


def test_count_cutoff_is_used_when_groups_are_ahead() -> None:
    """With every group past the cutoff, trimming goes to the count cutoff."""
    assert safe_trim_point("100-0", ["200-0", "150-3"]) == "100-0"


def test_a_lagging_group_holds_the_trim_point_back() -> None:
    """A group whose oldest needed entry is older than the cutoff wins."""
    assert safe_trim_point("100-0", ["99-5", "300-0"]) == "99-5"


def test_ids_compare_numerically_not_as_text() -> None:
    """Stream ids compare by (ms, seq) numbers: 9-0 is older than 10-0."""
    assert safe_trim_point("10-0", ["9-0"]) == "9-0"
    assert safe_trim_point("100-10", ["100-9"]) == "100-9"


def test_nothing_to_trim_without_a_count_cutoff() -> None:
    """A stream shorter than maxlen is never trimmed."""
    assert safe_trim_point(None, ["1-0"]) is None
