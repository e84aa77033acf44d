"""Walk-forward forecasts of the next `horizon` candles from a cached history, no I/O.

The forecast at candle j (its "origin") may use candles 0..j and nothing else:
- features at row j are backward-looking (features.py);
- the model is fitted on samples i whose label was known at j, i.e. i + horizon <= j,
  the last `train_window` of them, standardised with their own mean and deviation;
- the volatility and both baselines come from the same past.
A live forecast refits at its own origin. The backtest refits once per block of
`refit_every` candles (blocks aligned to open time, so every replica cuts them alike) at
the block's first origin and reuses that fit for the rest of the block: a model a few
candles stale, never a model that has seen the future.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from marketpulse_common.events import hash_inputs
from marketpulse_compute.features import FeatureMatrix, FeatureParams, build_features
from marketpulse_compute.model import LogisticModel, Standardiser, fit_logistic, sigmoid
from marketpulse_compute.targets import Targets, horizon_returns
from marketpulse_compute.volatility import RISKMETRICS_LAMBDA, ewma_volatility
from marketpulse_compute.window import Columns

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MODEL_FAMILY = "logit-ridge/1"
# E|r| of a normal return with deviation s is s * sqrt(2 / pi): the move's expected size.
_MEAN_ABS_NORMAL = math.sqrt(2.0 / math.pi)


@dataclass(frozen=True, slots=True)
class ForecastConfig:
    """Every knob of the forecaster; any change makes a new model version.

    l2 = 1000 on standardised features is a prior sd of ~0.03 logit per feature sd, i.e.
    no feature may move P(up) by more than about a point unless the data insist. That is
    deliberate: next-candle direction is close to a coin flip, and in walk-forward runs on
    the simulated market every weaker penalty (10, 100, 400) lost to the base rate out of
    sample by chasing noise, while 1000 roughly matched it. 400 samples is most of the
    default 500-candle cache after lookbacks; 100 is the fewest worth fitting 11
    coefficients on.
    """

    horizon: int = 1
    l2: float = 1000.0
    train_window: int = 400
    min_train: int = 100
    refit_every: int = 12
    ewma_lambda: float = RISKMETRICS_LAMBDA
    interval_level: float = 0.9
    features: FeatureParams = field(default_factory=FeatureParams)

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.refit_every < 1 or self.min_train < 2:
            raise ValueError("horizon, refit_every must be >= 1 and min_train >= 2")
        if self.train_window < self.min_train:
            raise ValueError("train_window must be at least min_train")
        if not 0.0 < self.interval_level < 1.0:
            raise ValueError("interval_level must be in (0, 1)")

    def model_version(self, feature_keys: Iterable[str]) -> str:
        """`logit-ridge/1+<hash>`: the family, then a hash of the config and feature list."""
        settings = asdict(self)
        settings["features"] = self.features.as_dict()
        return f"{MODEL_FAMILY}+{hash_inputs({'config': settings, 'keys': list(feature_keys)})}"


@dataclass(frozen=True, slots=True)
class History:
    """A candle history with everything forecasts on it need, computed once."""

    cols: Columns
    step_s: int
    features: FeatureMatrix
    targets: Targets
    volatility: FloatArray
    usable: npt.NDArray[np.bool_]  # complete features and a volatility estimate

    @property
    def size(self) -> int:
        return int(self.cols.close.size)


@dataclass(frozen=True, slots=True)
class Fit:
    """A model fitted with what was known at candle `known_at`, plus its baselines."""

    known_at: int
    rows: IntArray
    standardiser: Standardiser
    model: LogisticModel
    base_rate: float
    mean_return: float
    persistence: float  # how often the next move went the way of the last one


@dataclass(frozen=True, slots=True)
class Baseline:
    p_up: float
    expected_return: float


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    """One forecast in plain numbers; forecast_record turns it into the boundary model."""

    origin: int  # row in the history
    fit: Fit
    raw: FloatArray  # feature values at the origin
    z: FloatArray  # standardised
    contributions: FloatArray  # coef * z, per feature
    logit: float
    p_up: float
    volatility: float
    expected_return: float
    interval: tuple[float, float]
    climatology: Baseline
    persistence: Baseline


def prepare(cols: Columns, step_s: int, config: ForecastConfig) -> History:
    features = build_features(cols, config.features)
    volatility = ewma_volatility(cols.close, config.ewma_lambda)
    return History(
        cols=cols,
        step_s=step_s,
        features=features,
        targets=horizon_returns(cols.open_time, cols.close, config.horizon, step_s),
        volatility=volatility,
        usable=features.complete_rows() & np.isfinite(volatility),
    )


def training_rows(history: History, origin: int, config: ForecastConfig) -> IntArray:
    """Samples whose label is known at `origin`: the last `train_window` candidates."""
    last = origin - config.horizon
    candidates = np.arange(max(0, last - config.train_window + 1), last + 1)
    valid = _labelled(history)[candidates]
    return candidates[valid]


def forecastable(history: History, config: ForecastConfig) -> npt.NDArray[np.bool_]:
    """Origins with usable features and at least `min_train` training samples."""
    labelled = np.concatenate(([0], np.cumsum(_labelled(history))))
    origins = np.arange(history.size)
    last = origins - config.horizon
    first = np.maximum(0, last - config.train_window + 1)
    counts = np.where(last >= 0, labelled[np.maximum(last + 1, 0)] - labelled[first], 0)
    result: npt.NDArray[np.bool_] = history.usable & (counts >= config.min_train)
    return result


def fit_at(history: History, origin: int, config: ForecastConfig) -> Fit | None:
    """The model for forecasts made at `origin`; None with too few labelled samples."""
    rows = training_rows(history, origin, config)
    if rows.size < config.min_train:
        return None
    x = history.features.values[rows]
    standardiser = Standardiser.fit(x)
    up = history.targets.up[rows]
    past = history.targets.past[rows]
    seen = np.isfinite(past)
    repeats = (past[seen] > 0) == (up[seen] == 1.0)
    return Fit(
        known_at=origin,
        rows=rows,
        standardiser=standardiser,
        model=fit_logistic(standardiser.transform(x), up, config.l2),
        base_rate=float(up.mean()),
        mean_return=float(history.targets.forward[rows].mean()),
        persistence=float(repeats.mean()) if repeats.size else 0.5,
    )


def predict(history: History, fit: Fit, origin: int, config: ForecastConfig) -> ForecastPoint:
    """The forecast at `origin` with `fit` (which must have been fitted at or before it)."""
    if fit.known_at > origin or not history.usable[origin]:
        raise ValueError(f"cannot forecast at row {origin} with a fit known at {fit.known_at}")
    raw = history.features.values[origin]
    z = fit.standardiser.transform(raw)
    contributions = fit.model.coef * z
    logit = fit.model.intercept + float(contributions.sum())
    p_up = float(sigmoid(np.array(logit)))
    sigma = float(history.volatility[origin])
    spread = sigma * math.sqrt(config.horizon)
    # Direction from the model, size from volatility: E[log r] = (2p - 1) * E|log r|.
    centre = (2.0 * p_up - 1.0) * spread * _MEAN_ABS_NORMAL
    half = NormalDist().inv_cdf(0.5 + config.interval_level / 2.0) * spread
    return ForecastPoint(
        origin=origin,
        fit=fit,
        raw=raw,
        z=z,
        contributions=contributions,
        logit=logit,
        p_up=p_up,
        volatility=sigma,
        expected_return=math.expm1(centre),
        interval=(math.expm1(centre - half), math.expm1(centre + half)),
        climatology=Baseline(fit.base_rate, fit.mean_return),
        persistence=_persistence(history, fit, origin),
    )


def live_forecast(history: History, config: ForecastConfig) -> ForecastPoint | None:
    """The forecast at the newest candle, refitted on everything known then."""
    origin = history.size - 1
    if origin < 0 or not forecastable(history, config)[origin]:
        return None
    fit = fit_at(history, origin, config)
    return None if fit is None else predict(history, fit, origin, config)


def walk_forward(
    history: History, origins: Iterable[int], config: ForecastConfig
) -> list[ForecastPoint]:
    """Forecasts at `origins` (forecastable ones only), refitting once per block."""
    able = forecastable(history, config)
    slots = history.cols.open_time // history.step_s
    points: list[ForecastPoint] = []
    fit: Fit | None = None
    block = None
    for origin in sorted(set(origins)):
        if not able[origin]:
            continue
        origin_block = int(slots[origin]) // config.refit_every
        if fit is None or origin_block != block:
            fit, block = fit_at(history, origin, config), origin_block
        if fit is not None:
            points.append(predict(history, fit, origin, config))
    return points


def _labelled(history: History) -> npt.NDArray[np.bool_]:
    labelled: npt.NDArray[np.bool_] = history.features.complete_rows() & np.isfinite(
        history.targets.forward
    )
    return labelled


def _persistence(history: History, fit: Fit, origin: int) -> Baseline:
    last_move = float(history.targets.past[origin])
    if not math.isfinite(last_move):
        return Baseline(0.5, 0.0)  # the last move straddles a hole in the cache
    p_up = fit.persistence if last_move > 0 else 1.0 - fit.persistence
    return Baseline(p_up, last_move)
