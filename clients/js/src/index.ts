/**
 * @marketpulse/client: live channels and REST resources of the marketpulse gateway.
 *
 *     import { MarketPulse } from "@marketpulse/client";
 *     const mp = new MarketPulse({ url: "http://127.0.0.1:8000" });
 *     const off = mp.subscribe("ticker:bitcoin", (ticker) => console.log(ticker?.price));
 */

export { Backoff, type BackoffOptions } from "./backoff.js";
export type {
  Change,
  ChannelPhase,
  DeltaChange,
  RecoveredChange,
  SavedChannel,
  SnapshotChange,
  SnapshotReason,
} from "./channel.js";
export {
  DEFAULT_TIMEOUT_MS,
  MarketPulse,
  type MarketPulseDiagnostics,
  type MarketPulseOptions,
} from "./client.js";
export {
  MarketPulseConfigError,
  MarketPulseError,
  MarketPulseHttpError,
  MarketPulseNetworkError,
  MarketPulseResponseError,
  MarketPulseStreamError,
  MarketPulseTimeoutError,
  type Problem,
  type StreamErrorKind,
} from "./errors.js";
export { applyDelta, fromSnapshot } from "./merge.js";
export * from "./protocol.js";
export type { RequestOptions, RestStats } from "./rest.js";
export { compareSeq, isSeq } from "./seq.js";
export type {
  ChannelDiagnostics,
  ConnectionState,
  Listener,
  StreamDiagnostics,
  SubscribeOptions,
} from "./stream.js";
export type {
  CloseEventLike,
  FetchInit,
  FetchLike,
  FetchResponse,
  MessageEventLike,
  NetworkEvents,
  WebSocketConstructor,
  WebSocketLike,
} from "./transport.js";
export type * from "./types.js";
