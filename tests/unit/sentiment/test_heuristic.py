"""The rule-based reading: bullish, bearish and neutral markets, and bounds whatever the input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from marketpulse_common.events import Sentiment
from marketpulse_common.keys import ASSET_PATTERN
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.heuristic import LABEL_THRESHOLD, assess, read
from marketpulse_sentiment.inputs import SentimentInput
from tests.unit.sentiment.inputs_factory import NOW, frame

H1, H4, D1 = Timeframe.H1, Timeframe.H4, Timeframe.D1


def market(
    *, trend: float, rsi: float, hist: float, change: float | None, vol: float = 0.004
) -> SentimentInput:
    price = 100_000.0
    values = frame(price, trend=trend, rsi=rsi, hist=hist, volatility=vol)
    return SentimentInput(
        asset="bitcoin",
        price=price,
        change_24h_pct=change,
        indicators={H1: values, H4: values, D1: values},
    )


def test_rising_market_reads_bullish_and_says_why() -> None:
    """Price above stacked EMAs, RSI over 50, MACD above signal, a green day: bullish."""
    s = assess(market(trend=0.01, rsi=64, hist=50, change=3.5), input_hash="abc", now=NOW)
    assert s.label == "bullish"
    assert s.score >= 0.5
    assert s.confidence >= 0.7
    assert s.provider == "heuristic" and s.input_hash == "abc" and s.created_at == NOW
    text = " ".join(s.drivers)
    assert "Trend up" in text and "RSI 64 on 1h" in text and "MACD above signal" in text
    assert "+3.5%" in text
    assert "bullish" in s.summary


def test_falling_market_reads_bearish() -> None:
    """Price below EMAs stacked downwards, RSI under 40, MACD below signal, a red day: bearish."""
    s = assess(market(trend=-0.01, rsi=34, hist=-50, change=-4.0), input_hash="h", now=NOW)
    assert s.label == "bearish"
    assert s.score <= -0.5
    assert any(d.startswith("Trend down") for d in s.drivers)
    assert any("MACD below" in d for d in s.drivers)


def test_flat_market_reads_neutral() -> None:
    """EMAs together, RSI 50, no MACD histogram, no change: neutral with a score near 0."""
    s = assess(market(trend=0.0, rsi=50, hist=0.0, change=0.0), input_hash="h", now=NOW)
    assert s.label == "neutral"
    assert abs(s.score) < LABEL_THRESHOLD


def test_signals_that_cancel_read_neutral_with_low_confidence() -> None:
    """An uptrend with collapsing momentum and a red day cancels out: neutral, unsure."""
    agreeing = assess(market(trend=0.01, rsi=70, hist=50, change=5), input_hash="h", now=NOW)
    torn = assess(market(trend=0.01, rsi=30, hist=-50, change=-5), input_hash="h", now=NOW)
    assert torn.label == "neutral"
    assert torn.confidence < agreeing.confidence - 0.3


def test_high_volatility_lowers_confidence() -> None:
    """The same signals in a high-volatility regime are read with less confidence."""
    calm = assess(market(trend=0.01, rsi=64, hist=50, change=3, vol=0.002), input_hash="h", now=NOW)
    wild = assess(market(trend=0.01, rsi=64, hist=50, change=3, vol=0.05), input_hash="h", now=NOW)
    assert calm.label == wild.label == "bullish"
    assert wild.confidence < calm.confidence
    assert any(d.startswith("Volatility high") for d in wild.drivers)


def test_overbought_rsi_is_named() -> None:
    """An RSI of 70 or more is called overbought in the drivers."""
    s = assess(market(trend=0.01, rsi=78, hist=50, change=3), input_hash="h", now=NOW)
    assert any("overbought on 1h, 4h, 1d" in d for d in s.drivers)


def test_no_data_reads_neutral_with_zero_confidence() -> None:
    """Nothing known (indicators inside their lookback, no ticker): neutral, confidence 0."""
    empty = {"ema_12": None, "rsi_14": None, "macd_hist": None}
    inp = SentimentInput(asset="bitcoin", indicators={H1: empty})
    s = assess(inp, input_hash="h", now=NOW)
    assert (s.label, s.score, s.confidence, s.drivers) == ("neutral", 0.0, 0.0, [])
    assert "no usable" in s.summary


def test_ticker_alone_still_reads_the_day() -> None:
    """With only a 24 h change known, the reading follows it, with low coverage."""
    s = assess(SentimentInput(asset="bitcoin", change_24h_pct=8.0), input_hash="h", now=NOW)
    assert s.label == "bullish"
    assert s.confidence <= 0.2


def test_same_input_reads_the_same() -> None:
    """The heuristic is deterministic: equal inputs give equal outputs."""
    inp = market(trend=0.004, rsi=57, hist=3, change=1.2)
    assert assess(inp, input_hash="h", now=NOW) == assess(inp, input_hash="h", now=NOW)


def test_timeframes_without_a_price_still_read_the_ema_stack() -> None:
    """Without a ticker the trend comes from EMA alignment alone."""
    values = frame(100.0, trend=0.01, rsi=50, hist=0.0)
    inp = SentimentInput(asset="bitcoin", indicators={H1: values})
    reading = read(inp)
    assert reading.trend == 1.0


# --- bounds under arbitrary input -------------------------------------------------------

NAMES = [
    "ema_12", "ema_26", "ema_50", "ema_200", "rsi_14", "rsi_7", "macd", "macd_signal",
    "macd_hist", "volatility_20", "atr_14", "bb_upper", "bb_lower", "obv", "vwap_20",
]  # fmt: skip
any_float = st.floats(allow_nan=False, allow_infinity=False)
values_strategy = st.dictionaries(
    st.one_of(st.sampled_from(NAMES), st.text(max_size=12)),
    st.one_of(st.none(), any_float, st.sampled_from([0.0, -0.0, 5e-324, 1.7976931348623157e308])),
    max_size=20,
)
inputs_strategy = st.builds(
    SentimentInput,
    asset=st.from_regex(ASSET_PATTERN, fullmatch=True),
    price=st.one_of(st.none(), any_float),
    change_24h_pct=st.one_of(st.none(), any_float),
    indicators=st.dictionaries(st.sampled_from(list(Timeframe)), values_strategy, max_size=6),
)
any_value = st.one_of(st.none(), st.floats())  # NaN and infinities too


def assert_well_formed(s: Sentiment) -> None:
    assert Sentiment.model_validate(s.model_dump()) == s
    assert -1 <= s.score <= 1 and 0 <= s.confidence <= 1
    assert len(s.summary) <= 280 and len(s.drivers) <= 5
    assert all(len(d) <= 120 for d in s.drivers)
    assert s.label == ("bullish" if s.score >= 0.2 else "bearish" if s.score <= -0.2 else "neutral")


@settings(max_examples=300, deadline=None)
@given(inputs_strategy)
def test_any_valid_input_gives_a_sentiment_within_bounds(inp: SentimentInput) -> None:
    """Arbitrary (finite or missing) values never produce an out-of-bounds Sentiment."""
    assert_well_formed(assess(inp, input_hash="h", now=NOW))


@settings(max_examples=200, deadline=None)
@given(
    price=any_value,
    change=any_value,
    indicators=st.dictionaries(
        st.sampled_from(list(Timeframe)),
        st.dictionaries(st.sampled_from(NAMES), any_value, max_size=15),
        max_size=6,
    ),
)
def test_even_unvalidated_nan_and_inf_stay_within_bounds(
    price: float | None, change: float | None, indicators: dict[Timeframe, dict[str, float | None]]
) -> None:
    """NaN and infinities that slipped past validation still give a valid Sentiment."""
    inp = SentimentInput.model_construct(
        asset="bitcoin", price=price, change_24h_pct=change, indicators=indicators
    )
    assert_well_formed(assess(inp, input_hash="h", now=NOW))
