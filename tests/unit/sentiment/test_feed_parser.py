"""RSS and Atom parse into headlines; DTDs, entity bombs, odd encodings and junk are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketpulse_sentiment.errors import FeedError
from marketpulse_sentiment.feed_parser import MAX_FEED_BYTES, MAX_ITEMS, parse_feed

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>News</title>
<item><title>Bitcoin tops $100k</title><link>https://n.example/1</link>
<pubDate>Thu, 02 Jan 2025 03:00:00 GMT</pubDate></item>
<item><title><![CDATA[Ether &amp; <b>friends</b>]]></title><link>https://n.example/2</link></item>
<item><description>no title, skipped</description></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom news</title>
<entry><title type="html">Solana &lt;i&gt;upgrade&lt;/i&gt;</title>
<link rel="self" href="https://a.example/self"/>
<link href="https://a.example/solana"/>
<updated>2025-01-02T02:30:00Z</updated></entry>
</feed>"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<item rdf:about="https://r.example/1"><title>BTC hashrate record</title>
<link>https://r.example/1</link><dc:date>2025-01-01T12:00:00+01:00</dc:date></item>
</rdf:RDF>"""


@pytest.mark.parametrize(
    "date",
    [
        "Mon, 01 Jan 2024 99999999999999999999:00:00 GMT",  # OverflowError in the parser
        "Mon, 01 Jan 99999 10:00:00 GMT",
        "Mon, 01",
        "not a date",
    ],
)
def test_a_date_the_parser_cannot_read_leaves_the_item_undated(date: str) -> None:
    feed = (
        f"<rss><channel><item><title>BTC up</title><pubDate>{date}</pubDate></item></channel></rss>"
    )
    [headline] = parse_feed(feed.encode())
    assert headline.title == "BTC up" and headline.published is None


def test_rss_items_become_headlines() -> None:
    """RSS 2.0: title, link and RFC 822 date; CDATA and markup cleaned; untitled items skipped."""
    first, second = parse_feed(RSS)
    assert first.title == "Bitcoin tops $100k"
    assert first.link == "https://n.example/1"
    assert first.published == datetime(2025, 1, 2, 3, 0, tzinfo=UTC)
    assert second.title == "Ether & friends" and second.published is None


def test_atom_entries_become_headlines() -> None:
    """Atom: the alternate link (not rel=self), ISO dates, escaped HTML titles cleaned."""
    (entry,) = parse_feed(ATOM)
    assert entry.title == "Solana upgrade"
    assert entry.link == "https://a.example/solana"
    assert entry.published == datetime(2025, 1, 2, 2, 30, tzinfo=UTC)


def test_rss_1_rdf_items_become_headlines() -> None:
    """RSS 1.0 (RDF, namespaced items, dc:date) parses too."""
    (item,) = parse_feed(RDF)
    assert item.title == "BTC hashrate record"
    assert item.published == datetime(2025, 1, 1, 11, 0, tzinfo=UTC)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss><channel><item><title>&lol3;</title></item></channel></rss>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss><channel><item><title>&xxe;</title></item></channel></rss>"""
BARE_DOCTYPE = b'<!doctype rss SYSTEM "http://evil.example/rss.dtd"><rss/>'
UTF7 = b'<?xml version="1.0" encoding="UTF-7"?>+ADw-rss+AD4-'
UTF16 = '<?xml version="1.0" encoding="UTF-16"?><rss/>'.encode("utf-16")


@pytest.mark.parametrize(
    "raw",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, BARE_DOCTYPE, UTF7, UTF16],
    ids=["billion-laughs", "external-entity", "doctype", "utf-7", "utf-16"],
)
def test_dtds_entities_and_unusual_encodings_are_refused(raw: bytes) -> None:
    """No DTD is ever parsed; encodings that could hide one from the check are refused."""
    with pytest.raises(FeedError):
        parse_feed(raw)


@pytest.mark.parametrize(
    "raw",
    [b"", b"not xml at all", b"<rss><channel><item>", b"\xff\xfe\x00garbage", b'{"json": 1}'],
)
def test_junk_is_a_feed_error(raw: bytes) -> None:
    """Anything that is not well-formed XML raises FeedError, never another exception."""
    with pytest.raises(FeedError):
        parse_feed(raw)


def test_a_document_that_is_not_a_feed_has_no_headlines() -> None:
    """Well-formed XML without items is an empty feed."""
    assert parse_feed(b"<html><body><title>hi</title></body></html>") == []


def test_oversized_feeds_are_refused() -> None:
    """A document over MAX_FEED_BYTES is refused before parsing."""
    with pytest.raises(FeedError):
        parse_feed(b"<rss>" + b" " * MAX_FEED_BYTES + b"</rss>")


def test_at_most_max_items_are_read() -> None:
    """An archive-sized feed yields its first MAX_ITEMS headlines."""
    items = b"".join(b"<item><title>Bitcoin %d</title></item>" % n for n in range(MAX_ITEMS + 50))
    assert len(parse_feed(b"<rss><channel>" + items + b"</channel></rss>")) == MAX_ITEMS


def test_latin_1_feeds_are_decoded() -> None:
    """A declared ISO-8859-1 feed reads correctly."""
    raw = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><rss><item><title>Café BTC</title></item></rss>'
    )
    (item,) = parse_feed(raw.encode("latin-1"))
    assert item.title == "Café BTC"
