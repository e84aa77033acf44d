"""PSI and Brier degradation turn into ok | warn | alert at the documented thresholds, and a
feature's PSI counts only beyond chance for its memory and when the forecast leans on it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from marketpulse_compute.drift import (
    DriftConfig,
    brier_degradation,
    chance_psi,
    drift_report,
    feature_shifts,
    influential,
    psi,
)
from marketpulse_compute.features import FeatureMatrix

CONFIG = DriftConfig(recent_window=100, recent_scored=100, min_samples=50)
BIG = DriftConfig(recent_window=1000, min_samples=50)


def matrix(*columns: np.ndarray, memory: float = 1.0) -> FeatureMatrix:
    keys = tuple(f"f{i}" for i in range(len(columns)))
    return FeatureMatrix(
        keys=keys,
        names=keys,
        memory=(memory,) * len(columns),
        values=np.column_stack(columns),
    )


def rows(start: int, stop: int) -> np.ndarray:
    return np.arange(start, stop, dtype=np.int64)


def shifted(seed: int = 7) -> np.ndarray:
    """4000 standard normals, then 1000 with the mean moved by one deviation."""
    rng = np.random.default_rng(seed)
    return np.concatenate((rng.normal(size=4000), rng.normal(1.0, 1.0, 1000)))


def test_psi_by_hand_with_two_bins() -> None:
    """Median cut of 0..99; 75 % / 25 % against 50 / 50 → .25 ln 1.5 + .25 ln 2."""
    reference = np.arange(100, dtype=np.float64)
    recent = np.concatenate((np.full(75, 10.0), np.full(25, 90.0)))
    expected = 0.25 * math.log(1.5) + 0.25 * math.log(2.0)
    assert psi(reference, recent, bins=2) == pytest.approx(expected)


def test_psi_of_a_sample_against_itself_is_zero() -> None:
    """The same values in the same bins: no shift at all."""
    values = np.random.default_rng(1).normal(size=500)
    assert psi(values, values) == pytest.approx(0.0, abs=1e-12)


def test_an_empty_bin_gives_a_large_finite_psi() -> None:
    """Every recent value in one bin: the floor keeps ln(a / e) finite."""
    reference = np.arange(100, dtype=np.float64)
    value = psi(reference, np.zeros(50), bins=2)
    assert math.isfinite(value)
    assert value > 1.0


def test_a_constant_feature_has_one_cut_and_no_drift() -> None:
    """Repeated values collapse the deciles; the same constant later is stable."""
    assert psi(np.full(100, 3.0), np.full(30, 3.0)) == pytest.approx(0.0, abs=1e-12)


def test_a_stable_feature_is_ok_and_a_shifted_one_alerts() -> None:
    """Same distribution: PSI below 0.1, ok; mean moved by 1 sd: PSI above 0.25, alert."""
    stable = np.random.default_rng(8).normal(size=5000)
    calm = drift_report(matrix(stable), rows(0, 4000), rows(4000, 5000), np.array([]), BIG)
    assert calm.status == "ok"
    assert calm.psi_max is not None and calm.psi_max < 0.1
    moved = drift_report(
        matrix(stable, shifted()), rows(0, 4000), rows(4000, 5000), np.array([]), BIG
    )
    assert moved.status == "alert"
    assert [f.feature for f in moved.features] == ["f1", "f0"]
    assert len(moved.reasons) == 1
    assert moved.reasons[0].startswith(f"PSI of f1 is {moved.features[0].psi:.3f}, above its")


def test_a_moderate_shift_warns() -> None:
    """A PSI between 0.1 and 0.25 is a warning."""
    reference = np.arange(1000, dtype=np.float64)
    # 70 % of the recent values below the reference median: .2 ln 1.4 + .2 ln(5/3) ≈ 0.17.
    recent = np.concatenate((np.full(70, 100.0), np.full(30, 900.0)))
    values = np.concatenate((reference, recent))
    report = drift_report(
        matrix(values), rows(0, 1000), rows(1000, 1100), np.array([]), DriftConfig(bins=2)
    )
    assert report.psi_max == pytest.approx(0.2 * math.log(1.4) + 0.2 * math.log(5 / 3))
    assert report.status == "warn"


def test_chance_psi_follows_the_chi_square_quantile() -> None:
    """Wilson-Hilferty is within 1 % of the tables: chi2(9) 95 % = 16.919, 99.9 % = 27.877."""
    assert chance_psi(9, 1.0, 1.0, 0.05) == pytest.approx(16.919, rel=0.01)
    assert chance_psi(9, 1.0, 1.0, 0.001) == pytest.approx(27.877, rel=0.01)
    # Memory and the overlap factor scale it linearly; no cut, no chance PSI at all.
    assert chance_psi(9, 20.0, 0.01, 0.05) == pytest.approx(0.2 * chance_psi(9, 1.0, 1.0, 0.05))
    assert chance_psi(0, 20.0, 0.01, 0.05) == 0.0


def test_the_bars_account_for_windows_that_overlap() -> None:
    """A recent window inside the reference: g = 1/n - 1/m, split over the features."""
    values = np.random.default_rng(3).normal(size=(400, 2))
    features = FeatureMatrix(keys=("a", "b"), names=("a", "b"), memory=(30.0, 1.0), values=values)
    config = DriftConfig()
    shifts = {
        s.drift.feature: s for s in feature_shifts(features, rows(0, 400), rows(250, 400), config)
    }
    g = 1 / 150 - 1 / 400
    assert shifts["a"].alert_at == pytest.approx(chance_psi(9, 30.0, g, config.chance_alert / 2))
    assert shifts["a"].warn_at == pytest.approx(chance_psi(9, 30.0, g, config.chance_warn / 2))
    assert shifts["b"].alert_at == config.psi_alert  # independent values: the usual reading


def test_a_slow_feature_wandering_is_not_drift_but_the_same_shift_in_a_fast_one_is() -> None:
    """The same values alert when each one is independent, and say nothing when a value
    carries over for 300 candles: 1000 recent values then hold only three fresh ones."""
    values = shifted()
    fast = drift_report(matrix(values), rows(0, 4000), rows(4000, 5000), np.array([]), BIG)
    slow = drift_report(
        matrix(values, memory=300.0), rows(0, 4000), rows(4000, 5000), np.array([]), BIG
    )
    assert fast.status == "alert"
    assert slow.status == "ok"
    assert slow.psi_max == fast.psi_max  # reported all the same


def test_a_feature_the_model_ignores_does_not_alert() -> None:
    """A shift in a feature with 1 % of the coefficient weight is reported, not alerted."""
    stable = np.random.default_rng(8).normal(size=5000)
    features = matrix(stable, shifted())
    args = (features, rows(0, 4000), rows(4000, 5000), np.array([]), BIG)
    ignored = drift_report(*args, influence={"f0": 0.99, "f1": -0.01})
    assert ignored.status == "ok"
    assert ignored.features[0].feature == "f1"
    assert drift_report(*args, influence={"f0": 0.5, "f1": -0.5}).status == "alert"


def test_without_known_weights_every_feature_counts() -> None:
    """No forecast, all-zero coefficients, or another model's features: nothing is ignored."""
    keys = ("a", "b")
    assert influential(keys, None, DriftConfig()) == {"a", "b"}
    assert influential(keys, {"a": 0.0, "b": 0.0}, DriftConfig()) == {"a", "b"}
    assert influential(keys, {"a": 1.0, "c": 1.0}, DriftConfig()) == {"a", "b"}
    # Half of an equal share (25 % of two) is the bar.
    assert influential(keys, {"a": 0.76, "b": -0.24}, DriftConfig()) == {"a"}
    assert influential(keys, {"a": 0.74, "b": -0.26}, DriftConfig()) == {"a", "b"}


def test_too_few_samples_say_nothing() -> None:
    """Below min_samples in either window there is no PSI and the status is ok."""
    values = np.arange(200, dtype=np.float64)
    report = drift_report(matrix(values), rows(0, 30), rows(30, 200), np.array([]), CONFIG)
    assert report.features == []
    assert report.psi_max is None
    assert report.status == "ok"


def test_brier_degradation_compares_the_recent_forecasts_with_all() -> None:
    """300 errors of 0.24 then 100 of 0.36: recent 0.36, long run 0.27, +33 % → alert."""
    errors = np.concatenate((np.full(300, 0.24), np.full(100, 0.36)))
    recent, long_run, degradation = brier_degradation(errors, CONFIG)
    assert recent == pytest.approx(0.36)
    assert long_run == pytest.approx(0.27)
    assert degradation == pytest.approx(0.36 / 0.27 - 1)
    features = matrix(np.zeros(10))
    report = drift_report(features, rows(0, 5), rows(5, 10), errors, CONFIG)
    assert report.status == "alert"
    assert report.reasons == ["recent Brier score is +33% against the long run"]


def test_brier_degradation_needs_a_long_run_longer_than_the_recent_window() -> None:
    """With fewer than two recent windows scored, there is no degradation figure."""
    assert brier_degradation(np.full(10, 0.25), CONFIG) == (None, None, None)
    recent, long_run, degradation = brier_degradation(np.full(150, 0.25), CONFIG)
    assert (recent, long_run, degradation) == (pytest.approx(0.25), pytest.approx(0.25), None)
