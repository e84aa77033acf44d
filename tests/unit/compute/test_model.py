"""L2 logistic regression by Newton: finds a real signal, shrinks with the penalty."""

from __future__ import annotations

import math

import numpy as np
import pytest

from marketpulse_compute.model import Standardiser, fit_logistic, sigmoid


def separable(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Label = 1 exactly when feature 0 is positive; feature 1 is pure noise."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return z, (z[:, 0] > 0).astype(np.float64)


def test_a_separable_signal_is_found_and_the_noise_feature_ignored() -> None:
    """The signal's coefficient dominates and nearly every sample is classified right."""
    z, y = separable()
    model = fit_logistic(z, y, l2=1.0)
    assert model.coef[0] > 5.0
    assert abs(model.coef[1]) < 0.2 * model.coef[0]
    accuracy = np.mean((model.probability(z) > 0.5) == (y == 1.0))
    assert accuracy > 0.97


def test_separable_data_still_give_a_finite_fit() -> None:
    """The penalty keeps the optimum finite where plain logistic regression diverges."""
    z, y = separable()
    model = fit_logistic(z, y, l2=0.1)
    assert np.isfinite(model.coef).all()
    assert model.iterations < 50  # converged, rather than stopped at the cap
    gradient = z.T @ (model.probability(z) - y) + 0.1 * model.coef
    np.testing.assert_allclose(gradient, 0.0, atol=1e-6)


def test_a_larger_penalty_shrinks_the_coefficients() -> None:
    """The coefficient norm falls strictly as l2 grows, towards zero."""
    z, y = separable(seed=1)
    norms = [float(np.linalg.norm(fit_logistic(z, y, l2).coef)) for l2 in (0.1, 10, 1000, 1e6)]
    assert norms == sorted(norms, reverse=True)
    assert norms[-1] < 0.01


def test_the_solution_zeroes_the_penalised_gradient() -> None:
    """At the optimum: X'(p - y) + l2 * w = 0 for the coefficients, sum(p - y) = 0 for b."""
    rng = np.random.default_rng(4)
    z = rng.normal(size=(300, 3))
    y = (rng.random(300) < sigmoid(0.8 * z[:, 0] - 0.5 * z[:, 2] + 0.3)).astype(np.float64)
    model = fit_logistic(z, y, l2=5.0)
    residual = model.probability(z) - y
    np.testing.assert_allclose(z.T @ residual + 5.0 * model.coef, 0.0, atol=1e-6)
    assert abs(residual.sum()) < 1e-6


def test_the_unpenalised_intercept_recovers_the_base_rate() -> None:
    """With no information in the features, P(up) is the share of ups in the sample."""
    z = np.zeros((100, 2))
    y = np.array([1.0] * 70 + [0.0] * 30)
    model = fit_logistic(z, y, l2=1.0)
    assert math.isclose(model.intercept, math.log(0.7 / 0.3), rel_tol=1e-6)
    np.testing.assert_allclose(model.probability(z), 0.7, rtol=1e-6)


def test_bad_inputs_are_refused() -> None:
    """A non-positive penalty or mismatched shapes raise ValueError."""
    z, y = separable(n=10)
    with pytest.raises(ValueError, match="l2"):
        fit_logistic(z, y, l2=0.0)
    with pytest.raises(ValueError, match="shapes"):
        fit_logistic(z, y[:5], l2=1.0)


def test_the_standardiser_centres_and_scales_with_the_training_moments() -> None:
    """Training columns come out with mean 0 and deviation 1; a constant column stays 0."""
    rng = np.random.default_rng(2)
    x = np.column_stack([rng.normal(5, 3, 200), np.full(200, 7.0)])
    standardiser = Standardiser.fit(x)
    z = standardiser.transform(x)
    np.testing.assert_allclose(z[:, 0].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(z[:, 0].std(), 1.0)
    assert (z[:, 1] == 0.0).all()


def test_sigmoid_is_stable_at_the_extremes() -> None:
    """No overflow: huge logits map to exactly 0 and 1."""
    with np.errstate(all="raise"):
        values = sigmoid(np.array([-1e4, 0.0, 1e4]))
    np.testing.assert_array_equal(values, [0.0, 0.5, 1.0])


def test_a_column_constant_but_for_rounding_carries_no_weight_later() -> None:
    """Wilder's RSI over ~400 identical closes is constant but for 1e-13 of rounding: scaled
    by that 'spread', the first real move after a stale feed came out at z ~ 1e13 and the
    forecast at P(up) = 0 or 1. Such a column is constant: its z is 0, in training and after."""
    rng = np.random.default_rng(3)
    rsi = 50.0 + rng.normal(0, 1e-13, 300)
    x = np.column_stack([rng.normal(0, 1, 300), rsi])
    standardiser = Standardiser.fit(x)
    assert (standardiser.transform(x)[:, 1] == 0.0).all()
    resumed = standardiser.transform(np.array([[0.5, 71.0], [-0.5, 20.0]]))
    assert (resumed[:, 1] == 0.0).all()
    np.testing.assert_allclose(
        resumed[:, 0], (np.array([0.5, -0.5]) - x[:, 0].mean()) / x[:, 0].std()
    )
