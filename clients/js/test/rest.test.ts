import { afterEach, describe, expect, expectTypeOf, it, vi } from "vitest";

import { gatewayUrls, MarketPulse } from "../src/client.js";
import {
  MarketPulseConfigError,
  MarketPulseError,
  MarketPulseHttpError,
  MarketPulseNetworkError,
  MarketPulseTimeoutError,
} from "../src/errors.js";
import { MarketPulseResponseError } from "../src/index.js";
import { parseRetryAfter } from "../src/rest.js";
import type { FetchInit, FetchResponse } from "../src/transport.js";
import type { Present, Ticker } from "../src/types.js";

interface Call {
  url: string;
  init: FetchInit;
}

/** A fetch that answers from a list, and records every request. */
interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
}

function fakeFetch(...answers: Answer[]) {
  const calls: Call[] = [];
  const fetch = async (url: string, init: FetchInit): Promise<FetchResponse> => {
    calls.push({ url, init });
    const answer = answers[Math.min(calls.length - 1, answers.length - 1)] ?? {};
    const body = answer.body;
    return {
      status: answer.status ?? 200,
      headers: new Headers(answer.headers ?? {}),
      text: async () => (typeof body === "string" ? body : JSON.stringify(body ?? {})),
    };
  };
  return { fetch, calls };
}

const TICKER_BODY = {
  data: {
    asset: "bitcoin",
    vs_currency: "usd",
    price: 64000,
    last_updated: "2026-01-01T00:00:00Z",
  },
  meta: { as_of: "2026-01-01T00:00:00Z", age_s: 1.5, stale: false, source: "simulated" },
};

function problem(status: number, slug: string, title: string, detail: string): string {
  return JSON.stringify({ type: `urn:marketpulse:problem:${slug}`, title, status, detail });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("REST requests", () => {
  it("builds each endpoint's URL with its query and sends the API key", async () => {
    const { fetch, calls } = fakeFetch({ body: TICKER_BODY });
    const mp = new MarketPulse({ url: "http://127.0.0.1:8000/", apiKey: "mp_k_s", fetch });
    await mp.ticker("bitcoin");
    await mp.snapshot("bitcoin", { tf: "1h", limit: 50 });
    await mp.candles("ethereum", { tf: "5m" });
    await mp.indicators("bitcoin", { tf: "4h" });
    await mp.forecast("bitcoin");
    await mp.evaluation("bitcoin", { tf: "1d" });
    await mp.sentiment("bit coin");
    await mp.assets();
    expect(calls.map((c) => c.url)).toEqual([
      "http://127.0.0.1:8000/v1/assets/bitcoin/ticker",
      "http://127.0.0.1:8000/v1/assets/bitcoin/snapshot?tf=1h&limit=50",
      "http://127.0.0.1:8000/v1/assets/ethereum/candles?tf=5m",
      "http://127.0.0.1:8000/v1/assets/bitcoin/indicators?tf=4h",
      "http://127.0.0.1:8000/v1/assets/bitcoin/forecast",
      "http://127.0.0.1:8000/v1/assets/bitcoin/evaluation?tf=1d",
      "http://127.0.0.1:8000/v1/assets/bit%20coin/sentiment",
      "http://127.0.0.1:8000/v1/assets",
    ]);
    expect(calls[0]?.init.headers).toEqual({ accept: "application/json", "x-api-key": "mp_k_s" });
    expect(calls[0]?.init.method).toBe("GET");
  });

  it("revalidates with the ETag and answers a 304 with the kept body", async () => {
    const { fetch, calls } = fakeFetch(
      { body: TICKER_BODY, headers: { etag: 'W/"abc"' } },
      { status: 304, headers: { etag: 'W/"abc"' } },
    );
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-01-01T00:00:01.5Z"));
    const mp = new MarketPulse({ url: "http://gw", fetch });
    const first = await mp.ticker("bitcoin");
    vi.setSystemTime(new Date("2026-01-01T00:00:42.5Z"));
    const second = await mp.ticker("bitcoin");
    vi.useRealTimers();
    expect(first).toEqual(TICKER_BODY);
    expect(second.data).toBe(first.data);
    // The ETag covers the data, not its age: the kept body's age is brought up to date.
    expect(second.meta).toEqual({ ...TICKER_BODY.meta, age_s: 42.5 });
    expect(calls[0]?.init.headers).not.toHaveProperty("if-none-match");
    expect(calls[1]?.init.headers["if-none-match"]).toBe('W/"abc"');
    expect(mp.diagnostics.rest).toEqual({ requests: 2, notModified: 1, errors: 0 });
  });

  it("brings every part's age up to date on a 304, not only the envelope's", async () => {
    const part = (asOf: string | null, ageS: number | null) => ({
      as_of: asOf,
      age_s: ageS,
      stale: false,
      source: "compute",
    });
    const snapshot = {
      data: { asset: "bitcoin", tf: "1h" },
      meta: {
        ...part("2026-01-01T00:00:00Z", 2),
        parts: {
          candles: part("2026-01-01T00:00:01Z", 1),
          forecast: part("2026-01-01T00:00:00Z", 2),
          sentiment: part(null, null),
        },
      },
    };
    const { fetch } = fakeFetch(
      { body: snapshot, headers: { etag: 'W/"s"' } },
      { status: 304, headers: { etag: 'W/"s"' } },
    );
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-01-01T00:00:02Z"));
    const mp = new MarketPulse({ url: "http://gw", fetch });
    await mp.snapshot("bitcoin", { tf: "1h" });
    vi.setSystemTime(new Date("2026-01-01T00:01:00Z"));
    const { meta } = await mp.snapshot("bitcoin", { tf: "1h" });
    vi.useRealTimers();
    expect(meta.age_s).toBe(60);
    expect(meta.parts).toEqual({
      candles: part("2026-01-01T00:00:01Z", 59),
      forecast: part("2026-01-01T00:00:00Z", 60),
      sentiment: part(null, null), // nothing cached: still no age
    });
  });

  it("keeps a new body when the resource changed", async () => {
    const changed = { ...TICKER_BODY, data: { ...TICKER_BODY.data, price: 65000 } };
    const { fetch, calls } = fakeFetch(
      { body: TICKER_BODY, headers: { etag: 'W/"1"' } },
      { body: changed, headers: { etag: 'W/"2"' } },
      { status: 304 },
    );
    const mp = new MarketPulse({ url: "http://gw", fetch });
    await mp.ticker("bitcoin");
    expect((await mp.ticker("bitcoin")).data.price).toBe(65000);
    expect((await mp.ticker("bitcoin")).data.price).toBe(65000);
    expect(calls[2]?.init.headers["if-none-match"]).toBe('W/"2"');
  });

  it("keeps bodies for a bounded number of URLs, dropping the least recently used", async () => {
    const { fetch, calls } = fakeFetch({ body: TICKER_BODY, headers: { etag: 'W/"x"' } });
    const mp = new MarketPulse({ url: "http://gw", fetch, cacheEntries: 2 });
    await mp.ticker("a");
    await mp.ticker("b");
    await mp.ticker("a"); // a is now the most recent
    await mp.ticker("c"); // evicts b
    await mp.ticker("b");
    await mp.ticker("a");
    const revalidated = calls.map((c) => c.init.headers["if-none-match"] !== undefined);
    expect(revalidated).toEqual([false, false, true, false, false, false]);
  });

  it("turns problem+json into a MarketPulseHttpError with every field", async () => {
    const { fetch } = fakeFetch({
      status: 404,
      headers: { "content-type": "application/problem+json" },
      body: problem(404, "unknown-asset", "Unknown asset", "asset 'nocoin' is not tracked"),
    });
    const mp = new MarketPulse({ url: "http://gw", fetch });
    const error = await mp.ticker("nocoin").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MarketPulseHttpError);
    expect(error).toBeInstanceOf(MarketPulseError);
    expect(error).toMatchObject({
      status: 404,
      type: "urn:marketpulse:problem:unknown-asset",
      title: "Unknown asset",
      detail: "asset 'nocoin' is not tracked",
      retryAfter: null,
      url: "http://gw/v1/assets/nocoin/ticker",
    });
    expect((error as Error).message).toBe("404 Unknown asset: asset 'nocoin' is not tracked");
  });

  it("keeps a problem's extension members", async () => {
    const body = {
      type: "urn:marketpulse:problem:invalid-request",
      title: "Invalid request",
      status: 422,
      detail: "…",
      errors: [{ location: "query parameter 'tf'", message: "bad" }],
    };
    const { fetch } = fakeFetch({ status: 422, body });
    const error = (await new MarketPulse({ url: "http://gw", fetch })
      .candles("bitcoin")
      .catch((e: unknown) => e)) as MarketPulseHttpError;
    expect(error.problem?.["errors"]).toEqual(body.errors);
  });

  it("reads Retry-After in seconds on 429 and 503", async () => {
    const { fetch } = fakeFetch(
      {
        status: 429,
        headers: { "retry-after": "12" },
        body: problem(429, "rate-limited", "Too many requests", "slow down"),
      },
      {
        status: 503,
        headers: { "retry-after": "5" },
        body: problem(503, "no-data", "No data yet", "starting"),
      },
    );
    const mp = new MarketPulse({ url: "http://gw", fetch });
    await expect(mp.ticker("bitcoin")).rejects.toMatchObject({ status: 429, retryAfter: 12 });
    await expect(mp.ticker("bitcoin")).rejects.toMatchObject({
      status: 503,
      retryAfter: 5,
      type: "urn:marketpulse:problem:no-data",
    });
  });

  it("describes an error whose body is not problem+json", async () => {
    const { fetch } = fakeFetch({ status: 502, body: "<html>Bad Gateway</html>" });
    const error = await new MarketPulse({ url: "http://gw", fetch })
      .ticker("bitcoin")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      status: 502,
      type: "about:blank",
      title: "Bad gateway",
      detail: "<html>Bad Gateway</html>",
      problem: null,
    });
  });

  it("gives up after its timeout with a MarketPulseTimeoutError", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const fetch = (_url: string, init: FetchInit) =>
      new Promise<FetchResponse>((_resolve, reject) => {
        init.signal.addEventListener("abort", () =>
          reject(new DOMException("aborted", "AbortError")),
        );
      });
    const mp = new MarketPulse({ url: "http://gw", fetch, timeoutMs: 2_000 });
    const pending = mp.ticker("bitcoin").catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(2_000);
    const error = await pending;
    expect(error).toBeInstanceOf(MarketPulseTimeoutError);
    expect(error).toMatchObject({ timeoutMs: 2_000, url: "http://gw/v1/assets/bitcoin/ticker" });
  });

  it("times out a body that stops arriving, not only the headers", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const fetch = async (_url: string, init: FetchInit): Promise<FetchResponse> => ({
      status: 200,
      headers: new Headers(),
      text: () =>
        new Promise<string>((_resolve, reject) => {
          init.signal.addEventListener("abort", () =>
            reject(new DOMException("aborted", "AbortError")),
          );
        }),
    });
    const mp = new MarketPulse({ url: "http://gw", fetch });
    const pending = mp.ticker("bitcoin", { timeoutMs: 500 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(500);
    expect(await pending).toBeInstanceOf(MarketPulseTimeoutError);
  });

  it("rejects with the caller's reason when the caller aborts", async () => {
    const fetch = (_url: string, init: FetchInit) =>
      new Promise<FetchResponse>((_resolve, reject) => {
        init.signal.addEventListener("abort", () => reject(init.signal.reason));
      });
    const mp = new MarketPulse({ url: "http://gw", fetch });
    const controller = new AbortController();
    const pending = mp.ticker("bitcoin", { signal: controller.signal });
    controller.abort(new Error("page left"));
    await expect(pending).rejects.toThrow("page left");
    await expect(mp.ticker("bitcoin", { signal: controller.signal })).rejects.toThrow("page left");
  });

  it("wraps a failed request in a MarketPulseNetworkError", async () => {
    const fetch = async (): Promise<FetchResponse> => {
      throw new TypeError("fetch failed");
    };
    const error = await new MarketPulse({ url: "http://gw", fetch })
      .ticker("bitcoin")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MarketPulseNetworkError);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it("turns a 2xx body that is not JSON into a counted MarketPulseResponseError", async () => {
    const { fetch, calls } = fakeFetch(
      { body: '{"data": {"asset": "bitc', headers: { etag: 'W/"cut"' } },
      { body: TICKER_BODY },
    );
    const mp = new MarketPulse({ url: "http://gw", fetch });
    const error = await mp.ticker("bitcoin").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MarketPulseResponseError);
    expect(error).toBeInstanceOf(MarketPulseError);
    expect(error).toMatchObject({ status: 200, url: "http://gw/v1/assets/bitcoin/ticker" });
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
    expect(mp.diagnostics.rest).toEqual({ requests: 1, notModified: 0, errors: 1 });
    // Nothing was kept for revalidation: the next request asks afresh.
    expect(await mp.ticker("bitcoin")).toEqual(TICKER_BODY);
    expect(calls[1]?.init.headers).not.toHaveProperty("if-none-match");
  });

  it("types each body from the OpenAPI document", async () => {
    const { fetch } = fakeFetch({ body: TICKER_BODY });
    const body = await new MarketPulse({ url: "http://gw", fetch }).ticker("bitcoin");
    expectTypeOf(body.data.price).toEqualTypeOf<number>();
    expectTypeOf(body.meta.stale).toEqualTypeOf<boolean>();
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");

  it("reads delay-seconds and HTTP dates", () => {
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
  });

  it("reads at most a day, as the gateway's own clients do", () => {
    // A garbled or hostile header must not stop a client for ever, nor overflow a timer
    // (setTimeout fires at once past 2^31-1 ms: a reconnect loop with no pause).
    expect(parseRetryAfter("99999999999999999999", now)).toBe(86_400);
    expect(parseRetryAfter("Fri, 01 Jan 2100 00:00:00 GMT", now)).toBe(86_400);
    expect(parseRetryAfter("86400", now)).toBe(86_400);
  });

  it("is null when absent or unreadable", () => {
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter("-5", now)).toBeNull();
  });
});

describe("gatewayUrls", () => {
  it("derives the REST base and the stream URL from either scheme", () => {
    expect(gatewayUrls("http://127.0.0.1:8000")).toEqual({
      http: "http://127.0.0.1:8000",
      ws: "ws://127.0.0.1:8000/v1/stream",
    });
    expect(gatewayUrls("https://api.example.com/mp/")).toEqual({
      http: "https://api.example.com/mp",
      ws: "wss://api.example.com/mp/v1/stream",
    });
    expect(gatewayUrls("wss://api.example.com/v1/stream")).toEqual({
      http: "https://api.example.com",
      ws: "wss://api.example.com/v1/stream",
    });
  });

  it("refuses what is not a gateway URL", () => {
    expect(() => gatewayUrls("ftp://example.com")).toThrow(MarketPulseConfigError);
    expect(() => gatewayUrls("::")).toThrow(MarketPulseConfigError);
  });
});

describe("channel value types", () => {
  it("types a channel's value by its kind, nullable fields optional", () => {
    const mp = new MarketPulse({ url: "http://gw" });
    expectTypeOf(mp.value("ticker:bitcoin")).toEqualTypeOf<Present<Ticker> | undefined>();
    expectTypeOf<Present<Ticker>["price"]>().toEqualTypeOf<number>();
    expectTypeOf<Present<Ticker>["high_24h"]>().toEqualTypeOf<number | undefined>();
    expectTypeOf(mp.value("something:else")).toEqualTypeOf<unknown>();
  });
});
