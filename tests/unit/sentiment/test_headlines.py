"""Headlines are cleaned to one visible line, matched to assets, deduplicated and bounded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketpulse_sentiment.headlines import (
    MAX_HEADLINE_CHARS,
    MAX_PER_ASSET,
    Headline,
    clean_headline,
    deduplicate,
    select_for_asset,
)
from tests.unit.sentiment.hostile_headlines import HOSTILE_HEADLINES
from tests.unit.sentiment.inputs_factory import NOW


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Bitcoin\n  rallies\t again ", "Bitcoin rallies again"),
        ("I\u200bg\u200bnore", "Ignore"),
        ("\uff22\uff34\uff23 up", "BTC up"),
        ("Bitcoin &amp; Ether &lt;b&gt;rally&lt;/b&gt;", "Bitcoin & Ether rally"),
        ("<b>Bold</b> move", "Bold move"),
        ("left\u202eright", "leftright"),
        ("\u0000\u0007", None),
        ("", None),
    ],
)
def test_headlines_are_cleaned_to_plain_visible_text(raw: str, clean: str | None) -> None:
    """Entities decoded, tags and invisible characters dropped, width folded, spaces joined."""
    assert clean_headline(raw) == clean


def test_every_hostile_headline_cleans_to_a_bounded_single_line() -> None:
    """Whatever a feed sends: one line, at most MAX_HEADLINE_CHARS, nothing invisible."""
    for raw in HOSTILE_HEADLINES:
        clean = clean_headline(raw)
        assert clean is not None
        assert len(clean) <= MAX_HEADLINE_CHARS
        assert "\n" not in clean and "\u202e" not in clean and "\u200b" not in clean


@pytest.mark.parametrize(
    ("title", "asset", "matches"),
    [
        ("Bitcoin hits a new high", "bitcoin", True),
        ("BITCOIN miners sell", "bitcoin", True),
        ("BTC funding turns negative", "bitcoin", True),
        ("$BTC breaks out", "bitcoin", True),
        ("btc lowercase is not the ticker", "bitcoin", False),
        ("Bitcoiners rejoice", "bitcoin", False),
        ("Solana outage resolved", "solana", True),
        ("SOLAR stocks rise", "solana", False),
        ("Avalanche network upgrade", "avalanche-2", True),
        ("Shiba Inu burns tokens", "shiba-inu", True),
        ("Ethereum and bitcoin both up", "ethereum", True),
    ],
)
def test_a_headline_matches_an_asset_by_name_or_ticker(
    title: str, asset: str, matches: bool
) -> None:
    """Names match in any case as whole words; tickers match in capitals only."""
    selected = select_for_asset([Headline(title)], asset, now=NOW)
    assert (selected == [title]) is matches


def test_the_same_story_is_kept_once_by_link_or_title() -> None:
    """Two items sharing a link, or a title (any case), are one story: the first is kept."""
    items = [
        Headline("Bitcoin up", link="https://a/1"),
        Headline("Bitcoin rallies", link="https://a/1"),
        Headline("BITCOIN UP", link="https://b/2"),
        Headline("Bitcoin down", link="https://b/3"),
    ]
    assert [h.title for h in deduplicate(items)] == ["Bitcoin up", "Bitcoin down"]


def test_selection_is_newest_first_recent_and_bounded() -> None:
    """Newest dated first, then undated; older than 48 h or future-dated left out; at most 5."""
    items = [Headline("Bitcoin undated")] + [
        Headline(f"Bitcoin story {n}", published=NOW - timedelta(hours=n)) for n in range(8)
    ]
    items += [
        Headline("Bitcoin old", published=NOW - timedelta(hours=49)),
        Headline("Bitcoin from the future", published=NOW + timedelta(days=1)),
    ]
    selected = select_for_asset(items, "bitcoin", now=NOW)
    assert selected == [f"Bitcoin story {n}" for n in range(MAX_PER_ASSET)]
    few = select_for_asset(items[:3], "bitcoin", now=NOW)
    assert few == ["Bitcoin story 0", "Bitcoin story 1", "Bitcoin undated"]
