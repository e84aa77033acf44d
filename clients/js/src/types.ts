/**
 * Names for the REST bodies and channel values, all derived from the generated OpenAPI types
 * (generated/openapi.ts), so a change in the gateway's document shows up here as a type error.
 */

import type { components, paths } from "./generated/openapi.js";

type Schemas = components["schemas"];

export type Ticker = Schemas["Ticker"];
export type Candle = Schemas["Candle"];
export type Indicators = Schemas["Indicators"];
export type Forecast = Schemas["Forecast"];
export type Evaluation = Schemas["Evaluation"];
export type Sentiment = Schemas["Sentiment"];
export type Timeframe = Schemas["Timeframe"];
export type Meta = Schemas["Meta"];

/** The 200 body of `GET path`. */
export type Ok<P extends keyof paths> = paths[P] extends {
  get: { responses: { 200: { content: { "application/json": infer Body } } } };
}
  ? Body
  : never;

/** The query parameters of `GET path`. */
export type Query<P extends keyof paths> = paths[P] extends {
  get: { parameters: { query?: infer Q } };
}
  ? NonNullable<Q>
  : never;

export type AssetsBody = Ok<"/v1/assets">;
export type TickerBody = Ok<"/v1/assets/{asset}/ticker">;
export type CandlesBody = Ok<"/v1/assets/{asset}/candles">;
export type IndicatorsBody = Ok<"/v1/assets/{asset}/indicators">;
export type ForecastBody = Ok<"/v1/assets/{asset}/forecast">;
export type EvaluationBody = Ok<"/v1/assets/{asset}/evaluation">;
export type SentimentBody = Ok<"/v1/assets/{asset}/sentiment">;
export type SnapshotBody = Ok<"/v1/assets/{asset}/snapshot">;

/** What each kind of channel carries. */
export interface ChannelValues {
  ticker: Ticker;
  candles: Candle;
  indicators: Indicators;
  forecast: Forecast;
  sentiment: Sentiment;
}

export type ChannelKind = keyof ChannelValues;

type NonNullKeys<T> = { [K in keyof T]-?: null extends T[K] ? never : K }[keyof T];

/**
 * A value as the client holds it: a top-level field that is null on the wire is absent
 * (see merge.ts), so nullable fields become optional and never null.
 */
export type Present<T> = { readonly [K in NonNullKeys<T>]: T[K] } & {
  readonly [K in Exclude<keyof T, NonNullKeys<T>>]?: Exclude<T[K], null>;
};

/** The value type of a channel named `C` (`unknown` for a name the types do not know). */
export type ChannelValue<C extends string> = C extends `${infer K}:${string}`
  ? K extends ChannelKind
    ? Present<ChannelValues[K]>
    : unknown
  : unknown;
