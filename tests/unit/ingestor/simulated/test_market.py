"""The simulated market: deterministic, self-consistent across timeframes, realistic."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np
import pytest
from numpy.typing import NDArray

from marketpulse_common.events import Candle
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.errors import UnknownAssetError
from marketpulse_ingestor.simulated.market import SimulatedMarket
from marketpulse_ingestor.simulated.price_model import (
    GeneratedDays,
    PriceProcess,
    ProcessState,
    Regime,
    asset_profile,
    derive_seed,
)

START = 1_750_000_123  # deliberately not aligned to any timeframe
ASSETS = ("bitcoin", "ethereum", "solana", "dogecoin")
SERVED = (Timeframe.M5, Timeframe.H1, Timeframe.H4, Timeframe.D1)
DAY = 86_400


def make_market(seed: int = 42, history_days: int = 20, start: int = START) -> SimulatedMarket:
    return SimulatedMarket(
        ASSETS, seed=seed, vs_currency="usd", start=start, history_days=history_days
    )


def generate(asset: str, n_days: int, seed: int = 7) -> GeneratedDays:
    profile = asset_profile(seed, asset)
    process = PriceProcess(profile, derive_seed(seed, asset, "path"))
    return process.generate(ProcessState.initial(profile), 19_000, n_days)


def hourly_log_returns(days: GeneratedDays) -> NDArray[np.float64]:
    return np.diff(np.log(days.bars.close[59::60]))


def folded(candles: list[Candle]) -> tuple[float, float, float, float, float]:
    """Fold consecutive candles into one (open, high, low, close, volume)."""
    return (
        candles[0].o,
        max(c.h for c in candles),
        min(c.l for c in candles),
        candles[-1].c,
        sum(c.v or 0.0 for c in candles),
    )


# --- determinism ---------------------------------------------------------------------


def test_same_seed_and_start_give_identical_markets() -> None:
    """Two markets built from the same seed, assets and start agree candle for candle."""
    a, b = make_market(), make_market()
    for asset in ASSETS:
        assert a.backfill(asset, Timeframe.H1, 300) == b.backfill(asset, Timeframe.H1, 300)
        assert a.ticker(asset) == b.ticker(asset)


def test_seed_and_asset_each_change_the_path() -> None:
    """A different seed, or a different asset, yields a different stream of prices."""
    base = make_market().backfill("dogecoin", Timeframe.H1, 50)
    other_seed = make_market(seed=43).backfill("dogecoin", Timeframe.H1, 50)
    assert [c.c for c in base] != [c.c for c in other_seed]
    returns = {
        asset: np.diff(np.log([c.c for c in make_market().backfill(asset, Timeframe.H1, 50)]))
        for asset in ASSETS
    }
    assert not np.allclose(returns["bitcoin"], returns["ethereum"])


def test_restart_on_the_same_day_reproduces_history() -> None:
    """A market restarted later the same UTC day replays the same closed history."""
    early = make_market(start=START)
    later = make_market(start=START + 3_600)
    first = early.backfill("bitcoin", Timeframe.M5, 100)
    again = later.closed_candles("bitcoin", Timeframe.M5, since_open=first[0].t - 300)
    assert again[: len(first)] == first


def test_seed_derivation_is_stable_across_processes() -> None:
    """Per-asset seeds come from hashlib, not the per-process salted hash()."""
    assert derive_seed(42, "bitcoin", "path") == 0x95768764D31A75B29C73CAD077D9CA98


def test_advance_chunking_does_not_change_the_path() -> None:
    """Advancing in 300 s steps, reading as it goes, equals one big jump in market time."""
    stepped, jumped = make_market(), make_market()
    end = START + 3 * DAY
    for now in range(START, end + 1, 300):
        stepped.advance(now)
        stepped.ticker("solana")
    jumped.advance(end)
    since = START - DAY
    for tf in (Timeframe.M5, Timeframe.H4):
        assert stepped.closed_candles("solana", tf, since) == jumped.closed_candles(
            "solana", tf, since
        )
    assert stepped.ticker("solana") == jumped.ticker("solana")


def test_generating_day_by_day_equals_generating_at_once() -> None:
    """The process carries its state across days exactly: chunking leaves no trace."""
    profile = asset_profile(1, "ethereum")
    process = PriceProcess(profile, derive_seed(1, "ethereum", "path"))
    whole = process.generate(ProcessState.initial(profile), 20_000, 6)
    state, closes = ProcessState.initial(profile), []
    for day in range(20_000, 20_006):
        part = process.generate(state, day, 1)
        state = part.state
        closes.append(part.bars.close)
    assert np.array_equal(np.concatenate(closes), whole.bars.close)
    assert state == whole.state


# --- candles -------------------------------------------------------------------------


@pytest.mark.parametrize(("coarse", "fine"), [("1h", "5m"), ("4h", "1h"), ("1d", "4h")])
def test_coarse_candles_aggregate_finer_ones(coarse: str, fine: str) -> None:
    """Each candle is its finer candles folded: first open, max high, min low, last close."""
    market = make_market()
    big, small = Timeframe(coarse), Timeframe(fine)
    per = big.seconds // small.seconds
    coarse_candles = market.backfill("ethereum", big, 10)
    fine_candles = market.backfill("ethereum", small, 11 * per)
    for candle in coarse_candles:
        inside = [f for f in fine_candles if candle.t <= f.t < candle.t + big.seconds]
        assert len(inside) == per
        o, h, lo, c, v = folded(inside)
        assert (candle.o, candle.h, candle.l, candle.c) == (o, h, lo, c)
        assert candle.v == pytest.approx(v, rel=1e-9)


@pytest.mark.parametrize("tf", SERVED)
def test_backfill_is_aligned_and_ends_at_the_last_close_before_start(tf: Timeframe) -> None:
    """Backfill gives `depth` contiguous candles on tf boundaries, the last closed by start."""
    candles = make_market().backfill("bitcoin", tf, 12)
    assert len(candles) == 12
    assert candles[-1].t == tf.last_closed_open(START)
    assert candles[-1].t + tf.seconds <= START
    assert all(c.t % tf.seconds == 0 for c in candles)
    assert [b.t - a.t for a, b in itertools.pairwise(candles)] == [tf.seconds] * 11


def test_each_candle_opens_at_the_previous_close() -> None:
    """The minute path is continuous, so consecutive candles share a price at the seam."""
    candles = make_market().backfill("solana", Timeframe.M5, 200)
    assert all(b.o == a.c for a, b in itertools.pairwise(candles))


@pytest.mark.parametrize("tf", SERVED)
def test_live_candles_continue_the_backfill(tf: Timeframe) -> None:
    """The first live candle follows the last backfilled one in time and in price."""
    market = make_market()
    history = market.backfill("ethereum", tf, 5)
    market.advance(START + 2 * DAY)
    live = market.closed_candles("ethereum", tf, since_open=history[-1].t)
    assert live[0].t == history[-1].t + tf.seconds
    assert live[0].o == history[-1].c


def test_closed_candles_only_include_closed_candles() -> None:
    """The candle still forming at market time is never returned."""
    market = make_market()
    now = Timeframe.H1.floor(START) + 2 * 3_600 + 1_799
    market.advance(now)
    candles = market.closed_candles("bitcoin", Timeframe.H1, since_open=START - 6 * 3_600)
    assert candles[-1].t == Timeframe.H1.last_closed_open(now)
    assert candles[-1].t + 3_600 <= now
    market.advance(Timeframe.H1.floor(now) + 3_600)
    newer = market.closed_candles("bitcoin", Timeframe.H1, since_open=candles[-1].t)
    assert [c.t for c in newer] == [candles[-1].t + 3_600]


def test_every_candle_is_a_valid_model() -> None:
    """All candles of every timeframe, 1m included, pass the shared schema's checks."""
    market = make_market()
    market.advance(START + DAY)
    for asset in ASSETS:
        for tf in (Timeframe.M1, *SERVED):
            candles = market.closed_candles(asset, tf, since_open=START - 3 * DAY)
            assert candles
            for candle in candles:
                assert Candle.model_validate(candle.model_dump()) == candle
                assert candle.v is not None
                assert candle.v > 0


def test_deep_daily_backfill_reaches_500_days() -> None:
    """The default history covers a 500-deep daily backfill for every served timeframe."""
    market = SimulatedMarket(["bitcoin"], seed=42, vs_currency="usd", start=START)
    for tf in SERVED:
        assert len(market.backfill("bitcoin", tf, 500)) == 500


def test_backfill_deeper_than_history_returns_what_exists() -> None:
    """Asking for more candles than the history holds returns the whole history."""
    candles = make_market(history_days=3).backfill("bitcoin", Timeframe.D1, 10)
    assert len(candles) == 3


def test_old_history_is_dropped_as_market_time_moves_on() -> None:
    """Memory stays bounded: only about history_days of minutes are retained."""
    market = make_market(history_days=2)
    market.advance(START + 10 * DAY)
    candles = market.closed_candles("bitcoin", Timeframe.D1, since_open=0)
    assert len(candles) <= 3
    assert candles[-1].t == Timeframe.D1.last_closed_open(START + 10 * DAY)


# --- ticker and clock ----------------------------------------------------------------


def test_ticker_reflects_the_last_minute_and_the_trailing_day() -> None:
    """Price is the last closed minute; 24 h stats fold the trailing 1440 minutes."""
    market = make_market()
    now = START + 5 * 3_600
    market.advance(now)
    ticker = market.ticker("bitcoin")
    minutes = market.closed_candles("bitcoin", Timeframe.M1, since_open=now - DAY - 120)
    day = [c for c in minutes if c.t >= Timeframe.M1.floor(now) - DAY]
    o, h, lo, c, v = folded(day)
    assert len(day) == 1_440
    assert ticker.price == c
    assert (ticker.high_24h, ticker.low_24h) == (h, lo)
    assert ticker.volume_24h == pytest.approx(v, rel=1e-9)
    assert ticker.change_24h_pct == pytest.approx((c / o - 1) * 100)
    assert ticker.market_cap == pytest.approx(c * asset_profile(42, "bitcoin").supply)
    assert ticker.last_updated == datetime.fromtimestamp(now, tz=UTC)


def test_advance_never_moves_market_time_backwards() -> None:
    """An earlier time passed to advance is ignored."""
    market = make_market()
    market.advance(START + 600)
    market.advance(START)
    assert market.now == START + 600


def test_unknown_asset_is_a_clear_error() -> None:
    """Asking for an asset the market does not simulate raises UnknownAssetError."""
    with pytest.raises(UnknownAssetError, match="cardano"):
        make_market().ticker("cardano")


def test_known_assets_start_near_their_real_prices() -> None:
    """Bitcoin, ethereum and solana have realistic scales; others derive theirs from the seed."""
    prices = {asset: asset_profile(42, asset).price for asset in ("bitcoin", "ethereum", "solana")}
    assert prices == {"bitcoin": 60_000.0, "ethereum": 3_000.0, "solana": 150.0}
    assert asset_profile(42, "dogecoin") == asset_profile(42, "dogecoin")
    assert asset_profile(42, "dogecoin") != asset_profile(43, "dogecoin")


# --- realism -------------------------------------------------------------------------


def test_volatility_clusters() -> None:
    """Squared hourly returns are positively autocorrelated over a long path."""
    for asset in ("bitcoin", "dogecoin"):
        squared = hourly_log_returns(generate(asset, 400)) ** 2
        centred = squared - squared.mean()
        lag1 = float((centred[1:] * centred[:-1]).mean() / centred.var())
        assert lag1 > 0.05


def test_regimes_trend_both_ways() -> None:
    """The path visits up and down trends, and prices drift with the regime they are in."""
    days = generate("solana", 200)
    returns, regimes = hourly_log_returns(days), days.regimes[1:]
    assert set(np.unique(days.regimes)) == {Regime.RANGE, Regime.UP, Regime.DOWN}
    assert returns[regimes == Regime.UP].mean() > 0 > returns[regimes == Regime.DOWN].mean()


def test_volume_rises_with_absolute_returns() -> None:
    """Busy minutes (large moves) trade more: |return| and volume correlate clearly."""
    days = generate("ethereum", 30)
    abs_returns = np.abs(np.diff(np.log(days.bars.close)))
    correlation = np.corrcoef(abs_returns, days.bars.volume[1:])[0, 1]
    assert correlation > 0.3
    assert (days.bars.volume > 0).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prices_stay_sane_over_two_years(seed: int) -> None:
    """Over two years every known asset stays within a factor of ten of its start price."""
    for asset in ("bitcoin", "ethereum", "solana"):
        close = generate(asset, 730, seed=seed).bars.close
        start = asset_profile(seed, asset).price
        assert start / 10 < close.min() <= close.max() < start * 10
