"""Scores and skill match values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from marketpulse_compute.scoring import (
    MIN_SCORED,
    SIGNIFICANT_Z,
    Outcomes,
    Predictions,
    calibration,
    log_losses,
    paired_z,
    predictor_scores,
    skill_score,
    verdict,
)

P = np.array([0.8, 0.3, 0.6, 0.5])
UP = np.array([1.0, 0.0, 0.0, 1.0])
EXPECTED = np.array([0.01, -0.02, 0.0, 0.005])
REALISED = np.array([0.02, -0.01, -0.03, 0.01])
MODEL = Predictions(p_up=P, expected_return=EXPECTED)
COIN = Predictions(p_up=np.full(4, 0.5), expected_return=np.zeros(4))
OUT = Outcomes(up=UP, realised=REALISED)


def test_brier_log_loss_hit_rate_and_mae_by_hand() -> None:
    """Brier 0.74/4, log loss -mean(ln .8, ln .7, ln .4, ln .5), hits 2/4, MAE 0.055/4."""
    scores = predictor_scores(MODEL, OUT)
    assert scores.brier == pytest.approx(0.185)
    expected_ll = -(math.log(0.8) + math.log(0.7) + math.log(0.4) + math.log(0.5)) / 4
    assert scores.log_loss == pytest.approx(expected_ll)
    assert scores.hit_rate == 0.5  # 0.5 itself does not call "up"
    assert scores.return_mae == pytest.approx(0.01375)


def test_nothing_scored_gives_nothing_rather_than_zero() -> None:
    """No outcomes: every score is None, and the skill says there is too little data."""
    empty = Outcomes(up=np.array([]), realised=np.array([]))
    none = Predictions(p_up=np.array([]), expected_return=np.array([]))
    scores = predictor_scores(none, empty)
    assert (scores.hit_rate, scores.brier, scores.log_loss, scores.return_mae) == (None,) * 4
    assert skill_score(none, none, empty).verdict == "insufficient data"


def test_a_confident_miss_costs_a_bounded_log_loss() -> None:
    """p = 1 against a fall costs -ln(1e-15) ≈ 34.5, not infinity."""
    losses = log_losses(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    np.testing.assert_allclose(losses, -math.log(1e-15), rtol=1e-4)


def test_skill_against_a_coin_flip_by_hand() -> None:
    """BSS = 1 - 0.185/0.25, log-loss skill vs ln 2, MAE skill vs |realised|, paired z."""
    skill = skill_score(MODEL, COIN, OUT)
    assert skill.brier_skill == pytest.approx(0.26)
    assert skill.log_loss_skill == pytest.approx(1 - 0.5473140999 / math.log(2), rel=1e-6)
    assert skill.return_mae_skill == pytest.approx(1 - 0.01375 / 0.0175)
    differences = np.array([0.21, 0.16, -0.11, 0.0])
    z = differences.mean() / (differences.std(ddof=1) / 2)
    assert skill.z == pytest.approx(z)
    assert skill.verdict == "insufficient data"  # 4 forecasts prove nothing


def test_verdicts_need_enough_forecasts_and_a_significant_difference() -> None:
    """beats / worse only past |z| 1.96 with at least MIN_SCORED forecasts."""
    assert verdict(MIN_SCORED - 1, 5.0) == "insufficient data"
    assert verdict(MIN_SCORED, 2.0) == "beats"
    assert verdict(MIN_SCORED, 1.0) == "no better"
    assert verdict(MIN_SCORED, -1.0) == "no better"
    assert verdict(MIN_SCORED, -2.5) == "worse"
    assert verdict(MIN_SCORED, None) == "no better"


def test_paired_z_ignores_differences_that_are_only_rounding() -> None:
    """Squared errors are of order 0.1: differences of 1e-20 are the last bits of two equal
    forecasts, not evidence; a z from them would call a copy of a baseline 'beats'."""
    noise = np.array([3e-20, 1e-20, 2e-20, -1e-20] * 25)
    assert paired_z(noise) is None
    assert verdict(100, paired_z(noise)) == "no better"


def test_paired_z_is_undefined_without_spread() -> None:
    """Identical differences (or one) have no standard error."""
    assert paired_z(np.array([0.1, 0.1, 0.1])) is None
    assert paired_z(np.array([0.1])) is None


def test_calibration_bins_by_hand() -> None:
    """Two bins: [0, .5) holds 0.3 (a fall); [.5, 1] holds .8, .6, .5 with 2 of 3 up."""
    low, high = calibration(P, UP, bins=2)
    assert (low.low, low.high, low.count) == (0.0, 0.5, 1)
    assert low.mean_p == pytest.approx(0.3)
    assert low.observed == 0.0
    assert (high.low, high.high, high.count) == (0.5, 1.0, 3)
    assert high.mean_p == pytest.approx((0.8 + 0.6 + 0.5) / 3)
    assert high.observed == pytest.approx(2 / 3)


def test_calibration_puts_certainty_in_the_last_bin_and_leaves_empty_bins_empty() -> None:
    """p = 1.0 lands in the top bin; a bin with no forecasts has no mean and no frequency."""
    bins = calibration(np.array([1.0, 0.05]), np.array([1.0, 0.0]), bins=10)
    assert len(bins) == 10
    assert (bins[9].count, bins[9].observed) == (1, 1.0)
    assert (bins[0].count, bins[0].observed) == (1, 0.0)
    assert bins[5].count == 0
    assert (bins[5].mean_p, bins[5].observed) == (None, None)


def test_overlapping_forecasts_are_not_taken_for_independent_evidence() -> None:
    """Forecasts 6 candles ahead share 5 outcome candles with the next: their score
    differences come in correlated runs. With no real difference, the plain z called
    'beats' or 'worse' in about a third of such runs; allowing for the overlap, about the
    5 % a 1.96 threshold promises."""
    rng = np.random.default_rng(7)
    horizon, runs, n = 6, 300, 400
    called = {0: 0, horizon - 1: 0}
    for _ in range(runs):
        noise = rng.normal(size=n + horizon - 1)
        differences = np.convolve(noise, np.ones(horizon), mode="valid")  # mean 0
        for overlap in called:
            z = paired_z(differences, overlap=overlap)
            called[overlap] += z is not None and abs(z) >= SIGNIFICANT_Z
    assert called[0] / runs > 0.25  # the failure this guards against
    assert called[horizon - 1] / runs < 0.10


def test_no_overlap_keeps_the_plain_standard_error() -> None:
    """One-candle forecasts do not overlap: z is mean / (sd / sqrt(n)), as before."""
    differences = np.array([0.1, -0.05, 0.2, 0.0, 0.15])
    expected = differences.mean() / (differences.std(ddof=1) / np.sqrt(differences.size))
    assert paired_z(differences) == pytest.approx(expected)
    assert paired_z(differences, overlap=0) == pytest.approx(expected)
