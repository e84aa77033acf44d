import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { Backoff } from "../src/backoff.js";
import { MarketPulse } from "../src/client.js";
import { MarketPulseConfigError } from "../src/errors.js";

describe("Backoff", () => {
  it("starts between 0.5 s and 1 s and never exceeds 20 s", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 0.9999999, noNaN: true }), {
          minLength: 1,
          maxLength: 60,
        }),
        (draws) => {
          let i = 0;
          const backoff = new Backoff({}, () => draws[i++ % draws.length] ?? 0);
          draws.forEach((_, attempt) => {
            const delay = backoff.next();
            expect(delay).toBeGreaterThanOrEqual(500);
            expect(delay).toBeLessThanOrEqual(Math.min(20_000, 500 + 500 * 2 ** attempt));
          });
        },
      ),
    );
  });

  it("grows exponentially at the top of its jitter and stops at the cap", () => {
    const backoff = new Backoff({}, () => 1);
    const delays = Array.from({ length: 8 }, () => backoff.next());
    expect(delays).toEqual([1000, 1500, 2500, 4500, 8500, 16500, 20000, 20000]);
  });

  it("spreads delays over the whole range (full jitter)", () => {
    const low = new Backoff({}, () => 0);
    expect(Array.from({ length: 10 }, () => low.next())).toEqual(Array(10).fill(500));
  });

  it("starts over after a reset", () => {
    const backoff = new Backoff({}, () => 1);
    for (let i = 0; i < 10; i += 1) backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(1000);
    expect(backoff.attempts).toBe(1);
  });

  it("refuses bounds that make no sense", () => {
    expect(() => new Backoff({ minMs: 100, maxMs: 50 })).toThrow(MarketPulseConfigError);
  });

  it("refuses a floor of 0 or less, which would reconnect in a tight loop", () => {
    // min·2ⁿ stays 0: every delay would be 0 ms, whatever the cap.
    for (const minMs of [0, -0, -1, -500]) {
      expect(() => new Backoff({ minMs })).toThrow(MarketPulseConfigError);
      expect(() => new Backoff({ minMs, maxMs: 0 })).toThrow(/minMs/);
    }
  });

  it("refuses bounds that are not finite or that a timer cannot wait", () => {
    expect(() => new Backoff({ minMs: Number.NaN })).toThrow(MarketPulseConfigError);
    expect(() => new Backoff({ maxMs: Number.NaN })).toThrow(MarketPulseConfigError);
    expect(() => new Backoff({ maxMs: Number.POSITIVE_INFINITY })).toThrow(MarketPulseConfigError);
    // setTimeout fires at once for a delay above 2³¹−1 ms: as tight a loop as 0.
    expect(() => new Backoff({ maxMs: 2 ** 31 })).toThrow(MarketPulseConfigError);
    expect(new Backoff({ minMs: 1, maxMs: 2 ** 31 - 1 }).next()).toBeGreaterThanOrEqual(1);
  });

  it("lets a client be made with the default backoff or a small positive one", () => {
    expect(() => new MarketPulse({ url: "http://gw" })).not.toThrow();
    expect(() => new MarketPulse({ url: "http://gw", backoff: { minMs: 1 } })).not.toThrow();
    expect(() => new MarketPulse({ url: "http://gw", backoff: { maxMs: 1_000 } })).not.toThrow();
    expect(() => new MarketPulse({ url: "http://gw", backoff: { minMs: 0 } })).toThrow(
      MarketPulseConfigError,
    );
  });
});
