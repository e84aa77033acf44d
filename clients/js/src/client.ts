/**
 * `MarketPulse`: the one object an app creates. Live channels over one shared WebSocket
 * (stream.ts) and the REST resources (rest.ts), with one URL and one API key.
 */

import type { BackoffOptions } from "./backoff.js";
import type { SavedChannel } from "./channel.js";
import { MarketPulseConfigError, MarketPulseHttpError } from "./errors.js";
import { type RequestOptions, RestClient, type RestStats } from "./rest.js";
import {
  type ConnectionState,
  type Listener,
  type ProbeVerdict,
  Stream,
  type StreamDiagnostics,
  type StreamEvents,
  type SubscribeOptions,
} from "./stream.js";
import type { FetchLike, NetworkEvents, WebSocketConstructor } from "./transport.js";
import type {
  AssetsBody,
  CandlesBody,
  ChannelValue,
  EvaluationBody,
  ForecastBody,
  IndicatorsBody,
  Query,
  SentimentBody,
  SnapshotBody,
  TickerBody,
  Timeframe,
} from "./types.js";

export interface MarketPulseOptions {
  /** The gateway: `http(s)://host:port` (REST; the stream is `ws(s)://host:port/v1/stream`). */
  readonly url: string;
  /** Sent as `X-API-Key` on REST and as `?api_key=` on the stream (browsers cannot set headers there). */
  readonly apiKey?: string | undefined;
  /** A WebSocket class, where the runtime has none (Node 20: `import WebSocket from "ws"`). */
  readonly WebSocket?: WebSocketConstructor | undefined;
  /** A fetch function, where the runtime has none; defaults to `globalThis.fetch`. */
  readonly fetch?: FetchLike | undefined;
  /** REST: the longest a request may take, connect to last byte (default 10 000 ms). */
  readonly timeoutMs?: number | undefined;
  /** REST: how many URLs' bodies to keep for ETag revalidation (default 256). */
  readonly cacheEntries?: number | undefined;
  /** Stream: the gateway's heartbeat interval (default 15 000 ms). */
  readonly heartbeatMs?: number | undefined;
  /** Stream: silence after which the state is `stale` (default 1.2 × heartbeat). */
  readonly staleAfterMs?: number | undefined;
  /** Stream: silence after which the connection is dead and replaced (default 2 × heartbeat). */
  readonly deadAfterMs?: number | undefined;
  /** Stream: a connection open this long resets the reconnect backoff (default 10 000 ms). */
  readonly stableAfterMs?: number | undefined;
  /** Stream: a handshake unanswered this long is given up on and retried (default 10 000 ms). */
  readonly openTimeoutMs?: number | undefined;
  /** Stream: reconnect delays (default 500 ms to 20 000 ms, full jitter). */
  readonly backoff?: BackoffOptions | undefined;
  /** Stream: channels saved with `positions()`, resumed from when they are subscribed again. */
  readonly resumeFrom?: Readonly<Record<string, SavedChannel>> | undefined;
  /** Stream: where to hear the browser's `online` event (default `window` when there is one). */
  readonly networkEvents?: NetworkEvents | null | undefined;
  /**
   * Stream: when a handshake fails, ask REST whether the API key is refused (then stop with a
   * fatal `auth` error instead of retrying forever) or rate limited (default true).
   */
  readonly probeOnHandshakeFailure?: boolean | undefined;
}

export interface MarketPulseDiagnostics extends StreamDiagnostics {
  readonly rest: Readonly<RestStats>;
}

type TimeframeOptions = RequestOptions & { readonly tf?: Timeframe };
type CandleOptions = RequestOptions & Query<"/v1/assets/{asset}/candles">;
type SnapshotOptions = RequestOptions & Query<"/v1/assets/{asset}/snapshot">;

export const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_CACHE_ENTRIES = 256;
const STREAM_PATH = "/v1/stream";
const PROBE_TIMEOUT_MS = 5_000;

export class MarketPulse {
  /** The REST base URL, e.g. `http://127.0.0.1:8000`. */
  readonly url: string;
  /** The stream URL, without the API key. */
  readonly streamUrl: string;
  private readonly rest: RestClient;
  private readonly stream: Stream;

  constructor(options: MarketPulseOptions) {
    const { http, ws } = gatewayUrls(options.url);
    this.url = http;
    this.streamUrl = ws;
    this.rest = new RestClient({
      baseUrl: http,
      apiKey: options.apiKey,
      fetch: options.fetch,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      cacheEntries: options.cacheEntries ?? DEFAULT_CACHE_ENTRIES,
      now: Date.now,
    });
    const probe = options.probeOnHandshakeFailure === false ? null : () => this.probe();
    this.stream = new Stream({
      url:
        options.apiKey === undefined ? ws : `${ws}?api_key=${encodeURIComponent(options.apiKey)}`,
      WebSocket: options.WebSocket,
      heartbeatMs: options.heartbeatMs,
      staleAfterMs: options.staleAfterMs,
      deadAfterMs: options.deadAfterMs,
      stableAfterMs: options.stableAfterMs,
      openTimeoutMs: options.openTimeoutMs,
      backoff: options.backoff,
      resumeFrom: options.resumeFrom,
      networkEvents: options.networkEvents,
      probe,
    });
  }

  // --- live channels -----------------------------------------------------------------------

  /**
   * Call `listener(value, change)` for every change of `channel` (`ticker:bitcoin`,
   * `indicators:bitcoin:1h`, …) until the returned function is called. Listeners of one
   * channel share one subscription on the gateway; the connection opens with the first.
   */
  subscribe<C extends string>(
    channel: C,
    listener: Listener<ChannelValue<C>>,
    options: SubscribeOptions = {},
  ): () => void {
    return this.stream.subscribe(channel, listener as Listener, options);
  }

  /** The current value of a subscribed channel (undefined while it has none). */
  value<C extends string>(channel: C): ChannelValue<C> | undefined {
    return this.stream.value(channel) as ChannelValue<C> | undefined;
  }

  /** Connection state: idle, connecting, live, stale, reconnecting or closed. */
  get state(): ConnectionState {
    return this.stream.state;
  }

  /** `on("state", (state, previous) => …)`, `on("error", (error) => …)`; returns `off`. */
  on<K extends keyof StreamEvents>(
    event: K,
    listener: (...args: StreamEvents[K]) => void,
  ): () => void {
    return this.stream.on(event, listener);
  }

  /**
   * Every channel's `{epoch, seq, value}`, JSON-serialisable: store it and pass it back as
   * `resumeFrom` (e.g. after a page load) to resume instead of starting over.
   */
  positions(): Record<string, SavedChannel> {
    return this.stream.positions();
  }

  /** Counters and per-channel positions (a fresh plain object on every read). */
  get diagnostics(): MarketPulseDiagnostics {
    return { ...this.stream.diagnostics, rest: { ...this.rest.stats } };
  }

  /** Open the stream now (subscribing does it too); after `close()` or a fatal error, start again. */
  connect(): void {
    this.stream.connect();
  }

  /** Close the stream and stop reconnecting; subscriptions, values and positions are kept. */
  close(): void {
    this.stream.close();
  }

  // --- REST ----------------------------------------------------------------------------------

  /** Tracked assets with their latest ticker. */
  assets(options: RequestOptions = {}): Promise<AssetsBody> {
    return this.rest.get("/v1/assets", {}, options);
  }

  ticker(asset: string, options: RequestOptions = {}): Promise<TickerBody> {
    return this.rest.get(assetPath(asset, "ticker"), {}, options);
  }

  candles(asset: string, options: CandleOptions = {}): Promise<CandlesBody> {
    const { tf, limit, ...request } = options;
    return this.rest.get(assetPath(asset, "candles"), { tf, limit }, request);
  }

  indicators(asset: string, options: TimeframeOptions = {}): Promise<IndicatorsBody> {
    const { tf, ...request } = options;
    return this.rest.get(assetPath(asset, "indicators"), { tf }, request);
  }

  forecast(asset: string, options: TimeframeOptions = {}): Promise<ForecastBody> {
    const { tf, ...request } = options;
    return this.rest.get(assetPath(asset, "forecast"), { tf }, request);
  }

  evaluation(asset: string, options: TimeframeOptions = {}): Promise<EvaluationBody> {
    const { tf, ...request } = options;
    return this.rest.get(assetPath(asset, "evaluation"), { tf }, request);
  }

  sentiment(asset: string, options: RequestOptions = {}): Promise<SentimentBody> {
    return this.rest.get(assetPath(asset, "sentiment"), {}, options);
  }

  /** Ticker, candles, indicators, forecast, evaluation and sentiment in one body. */
  snapshot(asset: string, options: SnapshotOptions = {}): Promise<SnapshotBody> {
    const { tf, limit, ...request } = options;
    return this.rest.get(assetPath(asset, "snapshot"), { tf, limit }, request);
  }

  /** After a failed handshake: does the gateway refuse our key, or ask us to wait? */
  private async probe(): Promise<ProbeVerdict> {
    try {
      await this.rest.get("/v1/assets", {}, { timeoutMs: PROBE_TIMEOUT_MS });
      return {};
    } catch (error) {
      if (!(error instanceof MarketPulseHttpError)) return {};
      if (error.status === 401 || error.status === 403) return { fatal: error };
      return error.retryAfter === null ? {} : { retryAfterMs: error.retryAfter * 1000 };
    }
  }
}

function assetPath(asset: string, resource: string): string {
  return `/v1/assets/${encodeURIComponent(asset)}/${resource}`;
}

/** The REST base and the stream URL from what the app gave (http(s) or ws(s), any path). */
export function gatewayUrls(url: string): { http: string; ws: string } {
  let parsed: URL;
  try {
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    parsed = new URL(url, base);
  } catch {
    throw new MarketPulseConfigError(`not a gateway URL: ${JSON.stringify(url)}`);
  }
  const secure = parsed.protocol === "https:" || parsed.protocol === "wss:";
  if (!["http:", "https:", "ws:", "wss:"].includes(parsed.protocol)) {
    throw new MarketPulseConfigError(
      `not a gateway URL (http, https, ws or wss): ${JSON.stringify(url)}`,
    );
  }
  let path = parsed.pathname.replace(/\/+$/, "");
  if (path.endsWith(STREAM_PATH)) path = path.slice(0, -STREAM_PATH.length);
  const hostAndPath = `${parsed.host}${path}`;
  return {
    http: `${secure ? "https" : "http"}://${hostAndPath}`,
    ws: `${secure ? "wss" : "ws"}://${hostAndPath}${STREAM_PATH}`,
  };
}
