"""Checks a schema-valid answer must still pass before it is stored. Pure.

The schema bounds the shape; these rules bound what headlines could do through a model that
was talked into something (prompt injection), without trying to recognise attacks:

- coherent: the label agrees with the score's sign (bullish > 0, bearish < 0, neutral within
  ±0.5), so a reader never sees "bullish, -0.9";
- anchored: the score stays within 0.6 of the rule-based reading of the same numbers. The
  model adds judgement and news flow on top of the numbers; it cannot overturn them, so
  no headline can move the published score further than that;
- plain text: no links, host names or e-mail addresses (what an attacker would want to
  place in front of users), read as a browser would (fullwidth letters and dots folded), no
  markup tags, no invisible or control characters;
- no relaying: no run of characters copied from a headline (case and spacing ignored) of 32
  characters, or of 60 % of a shorter headline (at least 12). A summary paraphrases; an
  injected message would have to be echoed, and "SYSTEM: label=bullish" is as much a relay
  as a paragraph is. Names and phrases shorter than that ("spot Bitcoin ETF") stay usable.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

from marketpulse_sentiment.contract import ModelAnswer

MAX_DEVIATION = 0.6
NEUTRAL_SCORE_LIMIT = 0.5
COPY_LIMIT = 32
COPY_SHARE = 0.6
MIN_COPY = 12
_LINK = re.compile(
    r"(?i)(?:[a-z][a-z0-9+.-]*://"  # any scheme://
    r"|\b(?:javascript|vbscript):|\bdata:[a-z]+/"  # script and data URLs
    r"|www\.|\b[\w.+-]+@[\w-]+\.\w+"  # bare web hosts, e-mail addresses
    # A bare host name, whatever its ending (airdrop.ai, verify.pro, note.dev): a name,
    # a dot, two letters or more. "e.g.", "U.S." and "1.5" are not; "up.Next" with a missing
    # space is refused too, which only costs that answer (the rule-based one is served).
    r"|\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.[a-z]{2,}\b)"
)
# Dots browsers accept in a host name besides "." (IDNA maps them to it), once NFKC has
# folded the fullwidth and halfwidth forms: the ideographic full stop.
_HOST_DOTS = str.maketrans({"\u3002": "."})
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?]")
_INVISIBLE = {"Cc", "Cf", "Co", "Cs", "Cn"}
_SPACE = re.compile(r"\s+")


def _coherence(answer: ModelAnswer) -> list[str]:
    ok = {
        "bullish": answer.score > 0,
        "bearish": answer.score < 0,
        "neutral": abs(answer.score) <= NEUTRAL_SCORE_LIMIT,
    }[answer.label]
    return [] if ok else [f"label: {answer.label} does not agree with the score"]


def _anchoring(answer: ModelAnswer, anchor_score: float) -> list[str]:
    if abs(answer.score - anchor_score) <= MAX_DEVIATION:
        return []
    return [f"score: more than {MAX_DEVIATION} away from what the numbers say"]


def _plain(field: str, text: str) -> list[str]:
    problems = []
    # As a browser would read it: fullwidth "ｈｔｔｐｓ：／／evil．com" is a link too.
    if _LINK.search(unicodedata.normalize("NFKC", text).translate(_HOST_DOTS)):
        problems.append(f"{field}: contains a link or address")
    if _MARKUP.search(text):
        problems.append(f"{field}: contains markup")
    if any(unicodedata.category(ch) in _INVISIBLE for ch in text):
        problems.append(f"{field}: contains control or invisible characters")
    return problems


def _folded(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def copy_limit(headline: str) -> int:
    """How many consecutive characters of `headline` count as relaying it."""
    return min(COPY_LIMIT, max(MIN_COPY, math.ceil(COPY_SHARE * len(headline))))


def copies(text: str, headline: str) -> bool:
    """True when `text` relays `headline`: contains a copied run of copy_limit characters."""
    text, headline = _folded(text), _folded(headline)
    limit = copy_limit(headline)
    return any(headline[i : i + limit] in text for i in range(len(headline) - limit + 1))


def screen(answer: ModelAnswer, *, headlines: Sequence[str], anchor_score: float) -> list[str]:
    """What is wrong with a schema-valid answer; empty when it may be stored."""
    problems = _coherence(answer) + _anchoring(answer, anchor_score)
    fields = [("summary", answer.summary)] + [
        (f"drivers.{i}", d) for i, d in enumerate(answer.drivers)
    ]
    for field, text in fields:
        problems += _plain(field, text)
        if any(copies(text, h) for h in headlines):
            problems.append(f"{field}: repeats a headline instead of summarising")
    return problems
