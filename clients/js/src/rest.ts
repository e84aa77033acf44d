/**
 * GET requests to the gateway's REST API: API key header, a timeout on every request, ETag
 * revalidation, and problem+json errors turned into `MarketPulseHttpError` (a success whose
 * body is not JSON into `MarketPulseResponseError`).
 *
 * Revalidation: each 200 that carries an `ETag` is kept (the last `cacheEntries` URLs); the
 * next request for the same URL sends `If-None-Match`, and a `304 Not Modified` answers with
 * the kept body (its `data` the same object, its `meta.age_s` and each snapshot part's brought
 * up to date: the ETag covers the data and its stale flag, not its age), so an unchanged
 * resource costs the gateway a header comparison and the network a few hundred bytes. The
 * gateway's ETags are weak and say `Cache-Control: no-cache`: the client always asks, it never
 * serves a kept body unasked.
 */

import {
  MarketPulseHttpError,
  MarketPulseNetworkError,
  MarketPulseResponseError,
  MarketPulseTimeoutError,
  type Problem,
} from "./errors.js";
import type { FetchLike, FetchResponse } from "./transport.js";

export interface RequestOptions {
  /** Cancels the request (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this request. */
  readonly timeoutMs?: number;
}

export type QueryValue = string | number | undefined;

export interface RestStats {
  requests: number;
  notModified: number;
  errors: number;
}

interface Kept {
  readonly etag: string;
  readonly body: unknown;
}

export class RestClient {
  readonly stats: RestStats = { requests: 0, notModified: 0, errors: 0 };
  private readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly fetchImpl: FetchLike | undefined;
  private readonly timeoutMs: number;
  private readonly cacheEntries: number;
  private readonly kept = new Map<string, Kept>();
  private readonly now: () => number;

  constructor(init: {
    baseUrl: string;
    apiKey: string | undefined;
    fetch: FetchLike | undefined;
    timeoutMs: number;
    cacheEntries: number;
    now: () => number;
  }) {
    this.baseUrl = init.baseUrl.replace(/\/+$/, "");
    this.apiKey = init.apiKey;
    const given = init.fetch;
    // Called as a plain function: a browser's `window.fetch` passed as is must not lose its
    // `this` ("Illegal invocation").
    this.fetchImpl =
      given === undefined ? undefined : (url, request) => given.call(globalThis, url, request);
    this.timeoutMs = init.timeoutMs;
    this.cacheEntries = init.cacheEntries;
    this.now = init.now;
  }

  /** `GET path?query`, its JSON body; throws a MarketPulseError subclass on any failure. */
  async get<T>(
    path: string,
    query: Record<string, QueryValue> = {},
    options: RequestOptions = {},
  ): Promise<T> {
    const url = this.url(path, query);
    const kept = this.kept.get(url);
    const { response, text } = await this.send(url, kept?.etag, options);
    if (response.status === 304 && kept !== undefined) {
      this.stats.notModified += 1;
      this.remember(url, kept); // now the most recently used
      return aged(kept.body, this.now()) as T;
    }
    if (response.status >= 200 && response.status < 300) {
      const body = this.parse(url, response.status, text);
      const etag = response.headers.get("etag");
      if (etag !== null) this.remember(url, { etag, body });
      return body as T;
    }
    this.stats.errors += 1;
    throw httpError(url, response, text, this.now());
  }

  /** The absolute URL of `path` with the defined `query` values. */
  url(path: string, query: Record<string, QueryValue> = {}): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined) params.set(name, String(value));
    }
    const search = params.toString();
    return `${this.baseUrl}${path}${search === "" ? "" : `?${search}`}`;
  }

  /** One request and its whole body, under one timeout. */
  private async send(
    url: string,
    etag: string | undefined,
    options: RequestOptions,
  ): Promise<{ response: FetchResponse; text: string }> {
    const fetchImpl = this.fetchImpl ?? defaultFetch();
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.apiKey !== undefined) headers["x-api-key"] = this.apiKey;
    if (etag !== undefined) headers["if-none-match"] = etag;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const caller = options.signal;
    caller?.throwIfAborted();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const forward = (): void => controller.abort(caller?.reason);
    caller?.addEventListener("abort", forward, { once: true });
    this.stats.requests += 1;
    try {
      const response = await fetchImpl(url, { method: "GET", headers, signal: controller.signal });
      const text = response.status === 304 ? "" : await response.text();
      return { response, text };
    } catch (error) {
      this.stats.errors += 1;
      if (caller?.aborted) throw caller.reason;
      if (controller.signal.aborted) throw new MarketPulseTimeoutError(url, timeoutMs);
      throw new MarketPulseNetworkError(url, error);
    } finally {
      clearTimeout(timer);
      caller?.removeEventListener("abort", forward);
    }
  }

  /** A success body as JSON; one that is not (cut short, a proxy's page) is a counted error. */
  private parse(url: string, status: number, text: string): unknown {
    try {
      return JSON.parse(text);
    } catch (error) {
      this.stats.errors += 1;
      throw new MarketPulseResponseError(url, status, error);
    }
  }

  private remember(url: string, kept: Kept): void {
    this.kept.delete(url);
    this.kept.set(url, kept);
    if (this.kept.size > this.cacheEntries) {
      const oldest = this.kept.keys().next();
      if (!oldest.done) this.kept.delete(oldest.value);
    }
  }
}

function defaultFetch(): FetchLike {
  const fetchImpl = (globalThis as { fetch?: FetchLike }).fetch;
  if (fetchImpl === undefined) {
    throw new TypeError("this runtime has no global fetch: pass one as the `fetch` option");
  }
  return fetchImpl.bind(globalThis);
}

const PROBLEM_TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not found",
  413: "Request body too large",
  422: "Invalid request",
  429: "Too many requests",
  500: "Internal error",
  502: "Bad gateway",
  503: "Service unavailable",
  504: "Gateway timeout",
};

/** The typed error for an error response; a body that is not problem+json is tolerated. */
export function httpError(
  url: string,
  response: FetchResponse,
  text: string,
  nowMs: number,
): MarketPulseHttpError {
  const problem = parseProblem(text);
  const status = response.status;
  return new MarketPulseHttpError({
    status,
    type: problem?.type ?? "about:blank",
    title: problem?.title ?? PROBLEM_TITLES[status] ?? `HTTP ${status}`,
    detail: problem?.detail ?? (text.trim().slice(0, 200) || `the gateway answered ${status}`),
    retryAfter: parseRetryAfter(response.headers.get("retry-after"), nowMs),
    url,
    problem,
  });
}

function parseProblem(text: string): Problem | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const { type, title, status, detail } = body as Record<string, unknown>;
  if (typeof title !== "string" || typeof detail !== "string") return null;
  return {
    ...(body as Record<string, unknown>),
    type: typeof type === "string" ? type : "about:blank",
    title,
    status: typeof status === "number" ? status : 0,
    detail,
  };
}

/**
 * A Retry-After longer than this is read as this: a garbled or hostile header cannot stop a
 * client for ever, nor overflow a timer (the Python client and the services read it so).
 */
export const MAX_RETRY_AFTER_S = 86_400;

/**
 * Retry-After in seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP date), never negative
 * and at most a day; null when absent or unreadable.
 */
export function parseRetryAfter(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Math.min(MAX_RETRY_AFTER_S, Number(text));
  // Every HTTP date format starts with the day's name; Date.parse would take "-5" as a year.
  if (!/^[A-Za-z]/.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.min(MAX_RETRY_AFTER_S, Math.max(0, Math.ceil((at - nowMs) / 1000)));
}

/**
 * A kept envelope answered again by a 304: the same body with every age as of `nowMs`, its
 * own and, in a `/snapshot` body, each part's (the dashboard shows those, one per panel).
 */
function aged(body: unknown, nowMs: number): unknown {
  if (!isRecord(body) || !isRecord(body.meta)) return body;
  const meta = agedMeta(body.meta, nowMs);
  if (!isRecord(meta.parts)) return { ...body, meta };
  const parts = Object.fromEntries(
    Object.entries(meta.parts).map(([name, part]) => [
      name,
      isRecord(part) ? agedMeta(part, nowMs) : part,
    ]),
  );
  return { ...body, meta: { ...meta, parts } };
}

/** One `meta` with `age_s` counted from its `as_of`; without either (nothing cached), as is. */
function agedMeta(meta: Record<string, unknown>, nowMs: number): Record<string, unknown> {
  const asOf = typeof meta.as_of === "string" ? Date.parse(meta.as_of) : NaN;
  if (Number.isNaN(asOf) || meta.age_s === null) return meta;
  return { ...meta, age_s: Math.max(0, Math.round(nowMs - asOf) / 1000) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
