import { describe, expect, it } from "vitest";

import {
  bollinger,
  computeAll,
  DEFAULT_PERIODS,
  ema,
  macd,
  periodsFrom,
  rsi,
} from "../src/indicators.js";

const wave = Array.from({ length: 120 }, (_, i) => 100 + 10 * Math.sin(i / 7) + i * 0.1);

describe("ema", () => {
  it("is seeded by the SMA of the first period values, then k = 2/(n+1)", () => {
    const out = ema([1, 2, 3, 4, 5], 3);
    expect(out.slice(0, 2)).toEqual([null, null]);
    expect(out[2]).toBeCloseTo(2); // (1+2+3)/3
    expect(out[3]).toBeCloseTo(2 * 0.5 + 4 * 0.5);
    expect(out[4]).toBeCloseTo(3 * 0.5 + 5 * 0.5);
  });

  it("is all null when there are fewer values than its period", () => {
    expect(ema([1, 2], 3)).toEqual([null, null]);
  });
});

describe("rsi", () => {
  it("is 100 for a series that only rises and 0 for one that never moves", () => {
    const rising = rsi(
      Array.from({ length: 30 }, (_, i) => i),
      14,
    );
    expect(rising.slice(0, 14).every((v) => v === null)).toBe(true);
    expect(rising[14]).toBe(100);
    expect(rsi(new Array(30).fill(5), 14)[20]).toBe(0);
  });

  it("stays within 0..100", () => {
    for (const v of rsi(wave, 14)) if (v !== null) expect(v).toBeGreaterThanOrEqual(0);
    for (const v of rsi(wave, 14)) if (v !== null) expect(v).toBeLessThanOrEqual(100);
  });
});

describe("macd", () => {
  it("starts all three lines on the compute service's lookback bar (33 for 12/26/9)", () => {
    const lines = macd(wave, 12, 26, 9);
    expect(lines.macd.findIndex((v) => v !== null)).toBe(33);
    expect(lines.signal.findIndex((v) => v !== null)).toBe(33);
    const last = wave.length - 1;
    expect(lines.hist[last]).toBeCloseTo(lines.macd[last]! - lines.signal[last]!);
  });

  it("is the fast EMA minus the slow EMA once both run", () => {
    const lines = macd(wave, 12, 26, 9);
    const slow = ema(wave, 26);
    const fast = ema(wave.slice(14), 12); // seeded on the slow EMA's seed bar, as TA-Lib
    expect(lines.macd[60]).toBeCloseTo(fast[60 - 14]! - slow[60]!);
  });
});

describe("bollinger", () => {
  it("is the SMA ± k population deviations", () => {
    const bands = bollinger([1, 2, 3, 4], 4, 2);
    const sd = Math.sqrt(((1.5 ** 2 + 0.5 ** 2) * 2) / 4);
    expect(bands.middle[3]).toBeCloseTo(2.5);
    expect(bands.upper[3]).toBeCloseTo(2.5 + 2 * sd);
    expect(bands.lower[3]).toBeCloseTo(2.5 - 2 * sd);
    expect(bands.middle[2]).toBeNull();
  });
});

describe("periods", () => {
  it("come from the Indicators value's params, with the service's defaults", () => {
    expect(periodsFrom(undefined)).toEqual(DEFAULT_PERIODS);
    const p = periodsFrom({ ema_period_0: 9, ema_period_1: 21, bb_num_std: 2.5 });
    expect([p.emaFast, p.emaSlow, p.bbStd, p.rsi]).toEqual([9, 21, 2.5, 14]);
    const all = computeAll(wave, p);
    expect(all.emaFast.findIndex((v) => v !== null)).toBe(8);
  });
});

describe("the compute service's values", () => {
  it("match, on one series (from marketpulse_compute.indicators, Python)", () => {
    // x[i] = 100 + 10 sin(i / 7) + 0.1 i, i < 120; values at the last bar (and RSI at 50).
    const all = computeAll(wave, DEFAULT_PERIODS);
    expect(all.emaFast[119]).toBeCloseTo(106.72248958596634, 9);
    expect(all.rsi[119]).toBeCloseTo(20.134195669185438, 9);
    expect(all.rsi[50]).toBeCloseTo(84.17170211356012, 9);
    expect(all.macd.macd[119]).toBeCloseTo(-2.590577742361461, 9);
    expect(all.macd.signal[119]).toBeCloseTo(-1.134541125392763, 9);
    expect(all.bands.upper[119]).toBeCloseTo(123.65723226311236, 9);
  });
});
