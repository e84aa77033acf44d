"""RSS 2.0, RSS 1.0 (RDF) and Atom documents → headlines, with the stdlib parser, safely.

The stdlib parser (expat) expands entities declared in a document's DTD, which is how
"billion laughs" and external-entity attacks work. A news feed never needs a DTD, so any
document that declares one (`<!DOCTYPE`, `<!ENTITY`) is refused before parsing. The bytes
are decoded here, from a short list of encodings, so the check reads the same characters
the parser will (UTF-7 or UTF-16 could otherwise hide a DOCTYPE from a byte scan).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from marketpulse_sentiment.errors import FeedError
from marketpulse_sentiment.headlines import Headline, clean_headline

MAX_FEED_BYTES = 512 * 1024
# A feed lists its latest 10-100 items; past this we are reading an archive.
MAX_ITEMS = 200
_ENCODINGS = {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "windows-1252"}
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']", re.IGNORECASE)
_FORBIDDEN = ("<!doctype", "<!entity")


def _decode(raw: bytes) -> str:
    match = _ENCODING.match(raw.removeprefix(b"\xef\xbb\xbf"))
    encoding = match.group(1).decode().lower() if match else "utf-8"
    if encoding not in _ENCODINGS:
        raise FeedError(f"feed encoding {encoding!r} is not accepted")
    try:
        return raw.decode("utf-8-sig" if encoding in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as e:
        raise FeedError("feed is not valid text in its declared encoding") from e


def _local(tag: object) -> str:
    """`{http://www.w3.org/2005/Atom}entry` → `entry` (comments and PIs have no str tag)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(item: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in item if _local(c.tag) == name), None)


def _text(item: ET.Element, *names: str) -> str | None:
    for name in names:
        child = _child(item, name)
        if child is not None:
            text = "".join(child.itertext()).strip()
            if text:
                return text
    return None


def _link(item: ET.Element) -> str | None:
    links = [c for c in item if _local(c.tag) == "link"]
    for link in links:  # Atom: <link rel="alternate" href="…"/>, rel defaults to alternate
        if link.get("href") and link.get("rel", "alternate") == "alternate":
            return link.get("href")
    return _text(item, "link")


def _date(item: ET.Element) -> datetime | None:
    text = _text(item, "pubDate", "published", "updated", "date")
    if text is None:
        return None
    try:
        when = parsedate_to_datetime(text)
    # A third party's date: an absurd year or hour overflows, a truncated one runs short.
    except (TypeError, ValueError, IndexError, OverflowError):
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _items(root: ET.Element) -> Iterator[ET.Element]:
    return (el for el in root.iter() if _local(el.tag) in ("item", "entry"))


def parse_feed(raw: bytes) -> list[Headline]:
    """Headlines of an RSS or Atom document, in feed order; FeedError if it is not one."""
    if len(raw) > MAX_FEED_BYTES:
        raise FeedError(f"feed larger than {MAX_FEED_BYTES} bytes")
    text = _decode(raw)
    if any(marker in text.lower() for marker in _FORBIDDEN):
        raise FeedError("feed declares a DTD or entities; refused")
    try:
        root = ET.fromstring(_DECLARATION.sub("", text, count=1))  # noqa: S314  (guarded above)
    except ET.ParseError as e:
        raise FeedError(f"feed is not well-formed XML: {e}") from e
    found: list[Headline] = []
    for item in _items(root):
        title = _text(item, "title")
        clean = clean_headline(title) if title else None
        if clean is not None:
            found.append(Headline(title=clean, link=_link(item), published=_date(item)))
        if len(found) >= MAX_ITEMS:
            break
    return found
