"""Entity tags and If-None-Match matching."""

from __future__ import annotations

import pytest

from marketpulse_gateway.rest.etag import etag_for, not_modified


def test_weak_and_stable() -> None:
    """The same data gives the same weak tag; different data a different one."""
    tag = etag_for(b'{"a":1}', stale=False)
    assert tag.startswith('W/"')
    assert tag == etag_for(b'{"a":1}', stale=False)
    assert tag != etag_for(b'{"a":2}', stale=False)


def test_turning_stale_changes_the_tag() -> None:
    """A copy that turned stale is not "not modified": the stale flag is part of the tag."""
    assert etag_for(b"x", stale=False) != etag_for(b"x", stale=True)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("*", True),
        ("TAG", True),
        ('W/"other", TAG', True),
        ('"other"', False),
    ],
)
def test_if_none_match(header: str | None, expected: bool) -> None:
    """Lists, `*` and weak/strong spellings of the same tag all match (weak comparison)."""
    tag = etag_for(b"data", stale=False)
    if header is not None:
        header = header.replace("TAG", tag)
    assert not_modified(header, tag) is expected


def test_strong_spelling_matches_weak_tag() -> None:
    """A client that dropped the W/ prefix still revalidates."""
    tag = etag_for(b"data", stale=False)
    assert not_modified(tag.removeprefix("W/"), tag)
