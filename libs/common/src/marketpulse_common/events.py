"""Versioned schemas of the values that travel between services.

Each value is published on a channel (see keys.Channel) as a stream entry and a snapshot
with the fields `s` (schema id, e.g. "ticker/1"), `ts` (epoch seconds when produced) and
`d` (the model as JSON). A consumer decodes with `decode_payload`, which rejects anything
that does not match the schema: producers and consumers agree on these models only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.timeframes import Timeframe


class Schema(BaseModel):
    """Base of every boundary model: unknown fields and NaN/inf are rejected, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Price = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone")
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class Ticker(Schema):
    asset: str
    vs_currency: str
    price: Price
    change_24h_pct: float | None = None
    high_24h: Price | None = None
    low_24h: Price | None = None
    volume_24h: NonNegative | None = None
    market_cap: NonNegative | None = None
    last_updated: UtcDatetime


class Candle(Schema):
    """One closed OHLC(V) candle; `t` is its open time in UTC epoch seconds."""

    t: int = Field(ge=0)
    o: Price
    h: Price
    l: Price  # noqa: E741  (OHLC is the domain's own vocabulary)
    c: Price
    v: NonNegative | None = None

    @model_validator(mode="after")
    def _check_range(self) -> Candle:
        if not (self.l <= min(self.o, self.c) and self.h >= max(self.o, self.c)):
            raise ValueError("candle high/low must bound open and close")
        return self


class CandleWindow(Schema):
    """Exactly which cached candles a derived value was computed from."""

    tf: Timeframe
    first_open: int
    last_open: int
    count: int = Field(ge=0)
    input_hash: str


class Indicators(Schema):
    asset: str
    tf: Timeframe
    window: CandleWindow
    params: dict[str, float]
    lookback: dict[str, int]
    values: dict[str, float | None]
    computed_at: UtcDatetime


SentimentLabel = Literal["bullish", "bearish", "neutral"]


class Sentiment(Schema):
    """A qualitative reading of one asset; every field bounded so nothing unvalidated leaks."""

    asset: str
    label: SentimentLabel
    score: float = Field(ge=-1, le=1)
    confidence: float = Field(ge=0, le=1)
    summary: str = Field(max_length=280)
    drivers: list[Annotated[str, Field(max_length=120)]] = Field(max_length=5)
    provider: str
    model: str | None = None
    input_hash: str
    fallback: bool = False
    created_at: UtcDatetime


Probability = Annotated[float, Field(ge=0, le=1)]
ForecastSource = Literal["live", "backtest"]


class PredictionInterval(Schema):
    """Central interval of the h-candle simple return at `level` (e.g. 0.9)."""

    level: float = Field(gt=0, lt=1)
    low: float
    high: float


class FeatureContribution(Schema):
    """One feature's share of a forecast's logit: coefficient × standardised value."""

    feature: str  # stable key, e.g. "ema_50_gap"
    name: str  # for people, e.g. "Price vs EMA(50)"
    value: float  # raw feature value at the forecast's candle
    z: float  # standardised with the training window's mean and deviation
    coefficient: float
    contribution: float  # in logit units; > 0 pushes P(up) above the intercept's


class ForecastExplanation(Schema):
    """logit = intercept + sum(contributions); P(up) = 1 / (1 + exp(-logit))."""

    intercept: float
    logit: float
    contributions: list[FeatureContribution]  # largest |contribution| first


class BaselineForecast(Schema):
    p_up: Probability
    expected_return: float


class ForecastBaselines(Schema):
    """What the reference rules said at the same candle (recorded so scoring needs nothing else)."""

    climatology: BaselineForecast  # P(up) = base rate of the training window
    persistence: BaselineForecast  # the last move again, at its historical frequency


class TrainingWindow(Schema):
    """The labelled samples the model was fitted on (origins, by candle open time)."""

    samples: int = Field(ge=0)
    first_origin: int
    last_origin: int
    base_rate: Probability


class Forecast(Schema):
    """P(up) and expected return of the next `horizon` candles, made at candle `origin`.

    Returns are simple returns from the close of `origin` to the close of `resolves_at`.
    `source` is "live" when made as that candle closed, while it was the newest candle cached;
    "backtest" when filled in by the walk-forward over cached history, or made only after
    later candles were cached (still only from candles up to `origin`).
    """

    asset: str
    tf: Timeframe
    origin: int
    horizon: int = Field(ge=1)
    resolves_at: int
    p_up: Probability
    expected_return: float
    interval: PredictionInterval
    volatility: NonNegative  # EWMA deviation of one candle's log return
    model_version: str
    explanation: ForecastExplanation
    baselines: ForecastBaselines
    training: TrainingWindow
    window: CandleWindow
    source: ForecastSource
    computed_at: UtcDatetime


class PredictorScores(Schema):
    """Out-of-sample scores of one predictor; None when nothing was scored."""

    hit_rate: Probability | None
    brier: NonNegative | None
    log_loss: NonNegative | None
    return_mae: NonNegative | None


SkillVerdict = Literal["beats", "no better", "worse", "insufficient data"]


class SkillScore(Schema):
    """The model against one baseline: 1 - score/score_ref (> 0 means the model is better)."""

    brier_skill: float | None
    log_loss_skill: float | None
    return_mae_skill: float | None
    z: float | None  # paired z of the per-forecast Brier difference (> 0: model better)
    verdict: SkillVerdict


class CalibrationBin(Schema):
    low: Probability
    high: Probability
    count: int = Field(ge=0)
    mean_p: Probability | None
    observed: Probability | None  # share of forecasts in the bin that went up


class Scorecard(Schema):
    """Every scored forecast of one kind (all, or live only) against the baselines."""

    n: int = Field(ge=0)
    base_rate: Probability | None
    model: PredictorScores
    climatology: PredictorScores
    persistence: PredictorScores
    vs_climatology: SkillScore
    vs_persistence: SkillScore
    calibration: list[CalibrationBin]
    verdict: str


DriftStatus = Literal["ok", "warn", "alert"]


class FeatureDrift(Schema):
    feature: str
    name: str
    psi: NonNegative


class DriftReport(Schema):
    """Feature drift (PSI, recent vs reference window) and Brier degradation (recent vs all)."""

    status: DriftStatus
    reasons: list[str]
    reference_samples: int = Field(ge=0)
    recent_samples: int = Field(ge=0)
    psi_max: NonNegative | None
    features: list[FeatureDrift]  # largest PSI first
    brier_recent: NonNegative | None
    brier_long_run: NonNegative | None
    brier_degradation: float | None  # brier_recent / brier_long_run - 1


class Evaluation(Schema):
    """How the recorded forecasts of one asset/timeframe did, as of candle `as_of`."""

    asset: str
    tf: Timeframe
    horizon: int = Field(ge=1)
    as_of: int
    window: CandleWindow
    model_version: str | None
    recorded: int = Field(ge=0)
    overall: Scorecard  # live and backtest forecasts together
    live: Scorecard
    drift: DriftReport
    computed_at: UtcDatetime


SCHEMAS: dict[str, type[Schema]] = {
    "ticker/1": Ticker,
    "candle/1": Candle,
    "indicators/1": Indicators,
    "sentiment/1": Sentiment,
    "forecast/1": Forecast,
    "evaluation/1": Evaluation,
}
_SCHEMA_IDS: dict[type[Schema], str] = {model: sid for sid, model in SCHEMAS.items()}


def schema_id(model: Schema) -> str:
    try:
        return _SCHEMA_IDS[type(model)]
    except KeyError:
        raise TypeError(f"{type(model).__name__} has no registered schema id") from None


def encode_payload(model: Schema) -> str:
    return orjson.dumps(model.model_dump(mode="json")).decode()


def decode_payload(schema: str, data: str | bytes) -> Schema:
    """Decode and validate a payload; anything malformed is a PoisonMessage, never a crash."""
    model = SCHEMAS.get(schema)
    if model is None:
        raise PoisonMessage(f"unknown schema {schema!r}")
    try:
        return model.model_validate_json(data)
    except ValidationError as e:
        raise PoisonMessage(f"payload does not match {schema}: {e.error_count()} errors") from e


def hash_inputs(value: Any) -> str:
    """Stable short hash of JSON-able inputs (sorted keys), for idempotency and provenance."""
    raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    return hashlib.sha256(raw).hexdigest()[:16]
