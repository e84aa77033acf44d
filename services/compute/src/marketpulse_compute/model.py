"""L2-regularised logistic regression fitted by Newton's method (IRLS), numpy only.

The model sees standardised features, so one penalty treats every feature alike and a
coefficient reads as "logit change per standard deviation". It minimises

    sum_i logloss(y_i, sigmoid(b + z_i . w)) + l2 / 2 * |w|^2

with the intercept b left unpenalised (the base rate is not something to shrink). The
penalty keeps the problem strictly convex, so the optimum is unique and finite even on
perfectly separable data, and Newton reaches it in a handful of steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MAX_ITERATIONS = 50
# On the step size: Newton's convergence is quadratic, so once a step is this small the
# next would be far below anything a probability printed to 6 digits can show.
TOLERANCE = 1e-10
# A column whose deviation is at most this share of its size is constant but for rounding.
CONSTANT_SPREAD = 1e-9
# A vanishing ridge on the intercept so the Hessian stays invertible when every sample is
# predicted with near certainty (weights p(1-p) ~ 0).
_INTERCEPT_RIDGE = 1e-9


@dataclass(frozen=True, slots=True)
class Standardiser:
    """z = (x - mean) / scale with the training sample's moments.

    A column constant in training carries no information, then or later: its z is 0. That
    includes one whose spread is only rounding (an RSI over a stale feed varies by ~1e-13):
    scaled by that, the first real move would be z ~ 1e13 and decide the forecast alone."""

    mean: FloatArray
    scale: FloatArray

    @classmethod
    def fit(cls, x: FloatArray) -> Standardiser:
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        constant = std <= CONSTANT_SPREAD * np.maximum(1.0, np.abs(mean))
        return cls(mean=mean, scale=np.where(constant, np.inf, std))

    def transform(self, x: FloatArray) -> FloatArray:
        result: FloatArray = (x - self.mean) / self.scale
        return result


@dataclass(frozen=True, slots=True)
class LogisticModel:
    intercept: float
    coef: FloatArray
    iterations: int

    def logit(self, z: FloatArray) -> FloatArray:
        result: FloatArray = self.intercept + z @ self.coef
        return result

    def probability(self, z: FloatArray) -> FloatArray:
        return sigmoid(self.logit(z))


def sigmoid(x: FloatArray) -> FloatArray:
    """1 / (1 + exp(-x)) without overflow warnings for large |x|."""
    result: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return result


def penalised_loss(
    beta: FloatArray, design: FloatArray, y: FloatArray, penalty: FloatArray
) -> float:
    """The objective at `beta` = (intercept, coef...); logaddexp keeps it finite."""
    eta = design @ beta
    # log(1 + e^eta) - y * eta is the log loss of sigmoid(eta) against y.
    loss = float(np.sum(np.logaddexp(0.0, eta) - y * eta))
    return loss + 0.5 * float(np.sum(penalty * beta * beta))


def fit_logistic(z: FloatArray, y: FloatArray, l2: float) -> LogisticModel:
    """Fit on rows `z` (n x d, standardised) and labels `y` in {0, 1}."""
    if z.ndim != 2 or z.shape[0] != y.shape[0]:
        raise ValueError(f"shapes do not match: z {z.shape}, y {y.shape}")
    if l2 <= 0:
        raise ValueError(f"l2 must be > 0 (it keeps the fit finite), got {l2}")
    design = np.column_stack([np.ones(z.shape[0]), z])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = _INTERCEPT_RIDGE
    beta = np.zeros(design.shape[1])
    iterations = 0
    while iterations < MAX_ITERATIONS:
        iterations += 1
        step = _newton_step(beta, design, y, penalty)
        beta = _damped(beta, step, design, y, penalty)
        if float(np.max(np.abs(step))) < TOLERANCE:
            break
    return LogisticModel(intercept=float(beta[0]), coef=beta[1:].copy(), iterations=iterations)


def _newton_step(
    beta: FloatArray, design: FloatArray, y: FloatArray, penalty: FloatArray
) -> FloatArray:
    p = sigmoid(design @ beta)
    gradient = design.T @ (p - y) + penalty * beta
    hessian = (design.T * (p * (1.0 - p))) @ design + np.diag(penalty)
    return np.asarray(np.linalg.solve(hessian, gradient), dtype=np.float64)


def _damped(
    beta: FloatArray, step: FloatArray, design: FloatArray, y: FloatArray, penalty: FloatArray
) -> FloatArray:
    """Take the full Newton step unless it raises the loss; then halve it until it does not.

    From zero the full step nearly always helps; halving guards the rare overshoot when a
    feature almost separates the classes.
    """
    current = penalised_loss(beta, design, y, penalty)
    scale = 1.0
    for _ in range(30):
        candidate: FloatArray = beta - scale * step
        if penalised_loss(candidate, design, y, penalty) <= current:
            return candidate
        scale *= 0.5
    return beta
