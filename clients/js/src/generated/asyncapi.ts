/**
 * Generated from the gateway's AsyncAPI document marketpulse stream 1
 * (AsyncAPI 3.0.0) by scripts/generate-asyncapi.mjs. Do not edit: change the
 * gateway's models, then regenerate (README: "Regenerating the types").
 */

/**
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Timeframe".
 */
export type Timeframe = "1m" | "5m" | "15m" | "1h" | "4h" | "1d";

export interface AsyncAPIDocument {
  BaselineForecast?: BaselineForecast;
  Candle?: Candle;
  CandleWindow?: CandleWindow;
  Delta?: Delta;
  ErrorFrame?: ErrorFrame;
  FeatureContribution?: FeatureContribution;
  Forecast?: Forecast;
  ForecastBaselines?: ForecastBaselines;
  ForecastExplanation?: ForecastExplanation;
  Heartbeat?: Heartbeat;
  Indicators?: Indicators;
  Ping?: Ping;
  Pong?: Pong;
  Position?: Position;
  PredictionInterval?: PredictionInterval;
  Sentiment?: Sentiment;
  SnapshotFrame?: SnapshotFrame;
  Subscribe?: Subscribe;
  Subscribed?: Subscribed;
  Ticker?: Ticker;
  Timeframe?: Timeframe;
  TrainingWindow?: TrainingWindow;
  Unsubscribe?: Unsubscribe;
}
/**
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "BaselineForecast".
 */
export interface BaselineForecast {
  expected_return: number;
  p_up: number;
}
/**
 * One closed OHLC(V) candle; `t` is its open time in UTC epoch seconds.
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Candle".
 */
export interface Candle {
  c: number;
  h: number;
  l: number;
  o: number;
  t: number;
  v?: number | null;
}
/**
 * Exactly which cached candles a derived value was computed from.
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "CandleWindow".
 */
export interface CandleWindow {
  count: number;
  first_open: number;
  input_hash: string;
  last_open: number;
  tf: Timeframe;
}
/**
 * One update: apply with a shallow merge, `state = {**state, **data}` (see delta.py).
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Delta".
 */
export interface Delta {
  channel: string;
  data: unknown;
  epoch: string;
  prev_seq: string | null;
  seq: string;
  type: "delta";
}
/**
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "ErrorFrame".
 */
export interface ErrorFrame {
  channel: string | null;
  channels: string[] | null;
  code:
    | "bad_request"
    | "unknown_op"
    | "unknown_channel"
    | "unavailable"
    | "rate_limited"
    | "too_many_channels";
  message: string;
  type: "error";
}
/**
 * One feature's share of a forecast's logit: coefficient × standardised value.
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "FeatureContribution".
 */
export interface FeatureContribution {
  coefficient: number;
  contribution: number;
  feature: string;
  name: string;
  value: number;
  z: number;
}
/**
 * P(up) and expected return of the next `horizon` candles, made at candle `origin`.
 *
 * Returns are simple returns from the close of `origin` to the close of `resolves_at`.
 * `source` is "live" when made as that candle closed, while it was the newest candle cached;
 * "backtest" when filled in by the walk-forward over cached history, or made only after
 * later candles were cached (still only from candles up to `origin`).
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Forecast".
 */
export interface Forecast {
  asset: string;
  baselines: ForecastBaselines;
  computed_at: string;
  expected_return: number;
  explanation: ForecastExplanation;
  horizon: number;
  interval: PredictionInterval;
  model_version: string;
  origin: number;
  p_up: number;
  resolves_at: number;
  source: "live" | "backtest";
  tf: Timeframe;
  training: TrainingWindow;
  volatility: number;
  window: CandleWindow;
}
/**
 * What the reference rules said at the same candle (recorded so scoring needs nothing else).
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "ForecastBaselines".
 */
export interface ForecastBaselines {
  climatology: BaselineForecast;
  persistence: BaselineForecast;
}
/**
 * logit = intercept + sum(contributions); P(up) = 1 / (1 + exp(-logit)).
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "ForecastExplanation".
 */
export interface ForecastExplanation {
  contributions: FeatureContribution[];
  intercept: number;
  logit: number;
}
/**
 * Central interval of the h-candle simple return at `level` (e.g. 0.9).
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "PredictionInterval".
 */
export interface PredictionInterval {
  high: number;
  level: number;
  low: number;
}
/**
 * The labelled samples the model was fitted on (origins, by candle open time).
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "TrainingWindow".
 */
export interface TrainingWindow {
  base_rate: number;
  first_origin: number;
  last_origin: number;
  samples: number;
}
/**
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Heartbeat".
 */
export interface Heartbeat {
  ts: number;
  type: "heartbeat";
}
/**
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Indicators".
 */
export interface Indicators {
  asset: string;
  computed_at: string;
  lookback: {
    [k: string]: number | undefined;
  };
  params: {
    [k: string]: number | undefined;
  };
  tf: Timeframe;
  values: {
    [k: string]: number | null | undefined;
  };
  window: CandleWindow;
}
/**
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Ping".
 */
export interface Ping {
  op: "ping";
}
/**
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Pong".
 */
export interface Pong {
  type: "pong";
}
/**
 * Where a client stopped reading a channel: `{epoch, seq}` from its last frame.
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Position".
 */
export interface Position {
  epoch: string;
  seq: string;
}
/**
 * A qualitative reading of one asset; every field bounded so nothing unvalidated leaks.
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Sentiment".
 */
export interface Sentiment {
  asset: string;
  confidence: number;
  created_at: string;
  /**
   * @maxItems 5
   */
  drivers:
    | []
    | [string]
    | [string, string]
    | [string, string, string]
    | [string, string, string, string]
    | [string, string, string, string, string];
  fallback?: boolean;
  input_hash: string;
  label: "bullish" | "bearish" | "neutral";
  model?: string | null;
  provider: string;
  score: number;
  summary: string;
}
/**
 * The cached state of a channel; `seq`, `epoch` and `data` are null before any value.
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "SnapshotFrame".
 */
export interface SnapshotFrame {
  channel: string;
  data: unknown;
  epoch: string | null;
  seq: string | null;
  type: "snapshot";
}
/**
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Subscribe".
 */
export interface Subscribe {
  /**
   * @minItems 1
   * @maxItems 100
   */
  channels: [string, ...string[]];
  op: "subscribe";
  resume?: {
    [k: string]: Position | undefined;
  } | null;
}
/**
 * `recovered`: the missed deltas follow (no snapshot); otherwise a snapshot follows.
 *
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Subscribed".
 */
export interface Subscribed {
  channel: string;
  epoch: string | null;
  recovered: boolean;
  type: "subscribed";
}
/**
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Ticker".
 */
export interface Ticker {
  asset: string;
  change_24h_pct?: number | null;
  high_24h?: number | null;
  last_updated: string;
  low_24h?: number | null;
  market_cap?: number | null;
  price: number;
  volume_24h?: number | null;
  vs_currency: string;
}
/**
 * This interface was referenced by `AsyncAPIDocument`'s JSON-Schema
 * via the `definition` "Unsubscribe".
 */
export interface Unsubscribe {
  /**
   * @minItems 1
   * @maxItems 100
   */
  channels: [string, ...string[]];
  op: "unsubscribe";
}
