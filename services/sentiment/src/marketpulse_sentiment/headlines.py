"""News headlines: cleaned, deduplicated and matched to an asset. Pure: no I/O, no clock.

A headline is untrusted text written by whoever controls a feed. Cleaning does not make it
safe (the prompt still treats it as data, and the answer is screened), it makes it plain:
one line of visible characters, normalised so look-alike tricks (full-width letters,
zero-width joiners, right-to-left overrides) read as what they are.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# Real headlines are well under 150 characters; anything longer is an essay or an attack.
MAX_HEADLINE_CHARS = 200
# Enough to give a flavour of the news flow without letting it outweigh the numbers.
MAX_PER_ASSET = 5
MAX_AGE = timedelta(hours=48)
FUTURE_SKEW = timedelta(minutes=10)
# Control, format (zero-width, bidi overrides), private-use, surrogate, unassigned.
_INVISIBLE = {"Cc", "Cf", "Co", "Cs", "Cn"}
_TAG = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")
# Tickers people write for the assets most feeds talk about; others match by name only.
SYMBOLS = {
    "bitcoin": "BTC",
    "ethereum": "ETH",
    "solana": "SOL",
    "ripple": "XRP",
    "cardano": "ADA",
    "dogecoin": "DOGE",
    "binancecoin": "BNB",
    "polkadot": "DOT",
    "litecoin": "LTC",
    "chainlink": "LINK",
    "avalanche-2": "AVAX",
    "tron": "TRX",
}
_ID_SUFFIX = re.compile(r"-\d+$")  # CoinGecko disambiguates ids: avalanche-2


@dataclass(frozen=True, slots=True)
class Headline:
    title: str
    link: str | None = None
    published: datetime | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """Identities for deduplication: the same story by link, or by title across feeds."""
        found = [_digest("title", self.title.casefold())]
        if self.link:
            found.append(_digest("link", self.link.strip()))
        return tuple(found)


def _digest(kind: str, text: str) -> str:
    return hashlib.sha256(f"{kind}:{text}".encode()).hexdigest()[:16]


def _visible(ch: str) -> str:
    # Line breaks and tabs separate words; zero-width and direction marks hide inside them.
    category = unicodedata.category(ch)
    if category == "Cc":
        return " "
    return "" if category in _INVISIBLE else ch


def clean_headline(text: str) -> str | None:
    """One plain, visible line of at most MAX_HEADLINE_CHARS; None when nothing is left."""
    text = unicodedata.normalize("NFKC", html.unescape(text))
    text = _TAG.sub(" ", text)
    text = "".join(_visible(ch) for ch in text)
    text = _SPACE.sub(" ", text).strip()
    if not text:
        return None
    return text if len(text) <= MAX_HEADLINE_CHARS else text[: MAX_HEADLINE_CHARS - 1] + "…"


def asset_patterns(asset: str) -> list[re.Pattern[str]]:
    """How a headline names `asset`: its name in any case, or its ticker in capitals."""
    name = _ID_SUFFIX.sub("", asset).replace("-", " ")
    patterns = [re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.IGNORECASE)]
    if symbol := SYMBOLS.get(asset):
        patterns.append(re.compile(rf"(?<![\w-])\$?{symbol}(?![\w-])"))
    return patterns


def mentions(title: str, patterns: Sequence[re.Pattern[str]]) -> bool:
    return any(p.search(title) for p in patterns)


def deduplicate(headlines: Iterable[Headline]) -> list[Headline]:
    """First of each story, where two headlines are one story if link or title match."""
    seen: set[str] = set()
    kept: list[Headline] = []
    for h in headlines:
        keys = h.keys
        if seen.isdisjoint(keys):
            kept.append(h)
        seen.update(keys)
    return kept


def _newest_first(h: Headline) -> tuple[int, float]:
    # Undated items sort after every dated one, keeping their feed order (sorted is stable).
    return (0, -h.published.timestamp()) if h.published else (1, 0.0)


def is_recent(h: Headline, now: datetime) -> bool:
    """Undated, or published within MAX_AGE; a date in the future (clock skew aside) is a
    feed trying to stay on top, and counts as not recent."""
    if h.published is None:
        return True
    return -FUTURE_SKEW <= now - h.published <= MAX_AGE


def select_for_asset(
    headlines: Iterable[Headline], asset: str, *, now: datetime, limit: int = MAX_PER_ASSET
) -> list[str]:
    """The newest `limit` distinct, recent headlines that mention `asset`."""
    patterns = asset_patterns(asset)
    recent = [h for h in headlines if mentions(h.title, patterns) and is_recent(h, now)]
    return [h.title for h in deduplicate(sorted(recent, key=_newest_first))][:limit]
