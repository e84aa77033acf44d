"""Headlines reach the model only as delimited data: no headline can leave its own string."""

from __future__ import annotations

import json

from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.headlines import clean_headline
from marketpulse_sentiment.inputs import SentimentInput
from marketpulse_sentiment.prompt import SYSTEM_PROMPT, user_message
from tests.unit.sentiment.hostile_headlines import HOSTILE_HEADLINES
from tests.unit.sentiment.inputs_factory import frame


def hostile_input() -> SentimentInput:
    cleaned = [c for h in HOSTILE_HEADLINES if (c := clean_headline(h))]
    return SentimentInput(
        asset="bitcoin",
        price=100_000.0,
        indicators={Timeframe.H1: frame(100_000.0, trend=0.01, rsi=64, hist=5)},
        headlines=tuple(cleaned),
    )


def block(text: str, tag: str) -> str:
    """The text between the one opening and the one closing `tag`."""
    assert text.count(f"<{tag}>") == 1 and text.count(f"</{tag}>") == 1
    return text.split(f"<{tag}>\n", 1)[1].split(f"\n</{tag}>", 1)[0]


def test_the_system_prompt_says_headlines_are_data() -> None:
    """The model is told headlines are untrusted data, never instructions."""
    assert "untrusted" in SYSTEM_PROMPT and "not instructions" in SYSTEM_PROMPT
    assert "record_sentiment" in SYSTEM_PROMPT


def test_every_hostile_headline_stays_inside_its_own_json_string() -> None:
    """Fake tags, quotes and newlines in 50+ hostile headlines cannot break the block."""
    inp = hostile_input()
    text = user_message(inp)
    lines = block(text, "headlines").split("\n")
    assert [json.loads(line) for line in lines] == list(inp.headlines)
    for line in lines:
        assert "<" not in line and ">" not in line and "&" not in line
    assert len(lines) == len(inp.headlines) >= 50


def test_the_market_data_is_one_json_document() -> None:
    """The numbers travel as JSON inside <market_data>, without the headlines."""
    inp = hostile_input()
    data = json.loads(block(user_message(inp), "market_data"))
    assert data["asset"] == "bitcoin" and data["price"] == 100_000.0
    assert data["indicators"]["1h"]["rsi_14"] == 64
    assert "headlines" not in data


def test_no_headlines_says_so() -> None:
    """An asset without news gets an explicit empty block."""
    text = user_message(SentimentInput(asset="bitcoin"))
    assert block(text, "headlines") == "(none)"


def test_a_rejected_answer_is_fed_back_as_a_list_of_problems() -> None:
    """The second ask lists why the first answer was refused, after the data."""
    text = user_message(SentimentInput(asset="bitcoin"), rejection=["score: too high", "x: y"])
    assert text.index("</headlines>") < text.index("previous answer was rejected")
    assert "- score: too high\n- x: y" in text
