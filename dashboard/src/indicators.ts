/**
 * Indicator series over a candle history, for the chart's overlays and panes. The same
 * definitions as the compute service (services/compute/…/indicators.py): EMA seeded by the SMA
 * of its first `period` values, Wilder's RSI, TA-Lib's MACD (both EMAs start on the slow
 * EMA's seed bar), Bollinger bands with the population deviation. The gateway publishes only
 * the latest values; the history the chart draws is computed here from the candles it holds.
 * `null` marks a bar inside an indicator's lookback.
 */

export type Series = (number | null)[];

function nulls(size: number): Series {
  return new Array<number | null>(size).fill(null);
}

export function ema(values: readonly number[], period: number): Series {
  const out = nulls(values.length);
  if (values.length < period) return out;
  const k = 2 / (period + 1);
  let level = 0;
  for (let i = 0; i < period; i++) level += values[i]!;
  level /= period;
  out[period - 1] = level;
  for (let i = period; i < values.length; i++) {
    level = level * (1 - k) + values[i]! * k;
    out[i] = level;
  }
  return out;
}

export function rsi(values: readonly number[], period = 14): Series {
  const out = nulls(values.length);
  if (values.length <= period) return out;
  let gain = 0;
  let loss = 0;
  for (let i = 1; i <= period; i++) {
    const change = values[i]! - values[i - 1]!;
    gain += Math.max(change, 0);
    loss += Math.max(-change, 0);
  }
  gain /= period;
  loss /= period;
  const share = (): number => (gain + loss === 0 ? 0 : (100 * gain) / (gain + loss));
  out[period] = share();
  for (let i = period + 1; i < values.length; i++) {
    const change = values[i]! - values[i - 1]!;
    gain = (gain * (period - 1) + Math.max(change, 0)) / period;
    loss = (loss * (period - 1) + Math.max(-change, 0)) / period;
    out[i] = share();
  }
  return out;
}

export interface MacdLines {
  macd: Series;
  signal: Series;
  hist: Series;
}

export function macd(values: readonly number[], fast = 12, slow = 26, signal = 9): MacdLines {
  [fast, slow] = fast <= slow ? [fast, slow] : [slow, fast];
  const size = values.length;
  const result: MacdLines = { macd: nulls(size), signal: nulls(size), hist: nulls(size) };
  const start = slow - 1 + signal - 1;
  if (size <= start) return result;
  const fastEma = ema(values.slice(slow - fast), fast);
  const slowEma = ema(values, slow);
  const line: number[] = [];
  for (let i = slow - 1; i < size; i++) {
    line.push(fastEma[i - (slow - fast)]! - slowEma[i]!);
  }
  const signalLine = ema(line, signal);
  for (let j = signal - 1; j < line.length; j++) {
    const i = j + slow - 1;
    const m = line[j]!;
    const s = signalLine[j]!;
    result.macd[i] = m;
    result.signal[i] = s;
    result.hist[i] = m - s;
  }
  return result;
}

export interface Bands {
  upper: Series;
  middle: Series;
  lower: Series;
}

export function bollinger(values: readonly number[], period = 20, numStd = 2): Bands {
  const size = values.length;
  const bands: Bands = { upper: nulls(size), middle: nulls(size), lower: nulls(size) };
  for (let i = period - 1; i < size; i++) {
    let sum = 0;
    for (let j = i - period + 1; j <= i; j++) sum += values[j]!;
    const mean = sum / period;
    let squares = 0;
    for (let j = i - period + 1; j <= i; j++) squares += (values[j]! - mean) ** 2;
    const width = numStd * Math.sqrt(squares / period);
    bands.middle[i] = mean;
    bands.upper[i] = mean + width;
    bands.lower[i] = mean - width;
  }
  return bands;
}

/** The periods in an Indicators value's `params` (defaults: the compute service's). */
export interface IndicatorPeriods {
  emaFast: number;
  emaSlow: number;
  rsi: number;
  macdFast: number;
  macdSlow: number;
  macdSignal: number;
  bbPeriod: number;
  bbStd: number;
}

export const DEFAULT_PERIODS: IndicatorPeriods = {
  emaFast: 12,
  emaSlow: 26,
  rsi: 14,
  macdFast: 12,
  macdSlow: 26,
  macdSignal: 9,
  bbPeriod: 20,
  bbStd: 2,
};

export function periodsFrom(
  params: Readonly<Record<string, number>> | undefined,
): IndicatorPeriods {
  const p = params ?? {};
  return {
    emaFast: p["ema_period_0"] ?? DEFAULT_PERIODS.emaFast,
    emaSlow: p["ema_period_1"] ?? DEFAULT_PERIODS.emaSlow,
    rsi: p["rsi_period"] ?? DEFAULT_PERIODS.rsi,
    macdFast: p["macd_fast"] ?? DEFAULT_PERIODS.macdFast,
    macdSlow: p["macd_slow"] ?? DEFAULT_PERIODS.macdSlow,
    macdSignal: p["macd_signal"] ?? DEFAULT_PERIODS.macdSignal,
    bbPeriod: p["bb_period"] ?? DEFAULT_PERIODS.bbPeriod,
    bbStd: p["bb_num_std"] ?? DEFAULT_PERIODS.bbStd,
  };
}

export interface IndicatorSeries {
  emaFast: Series;
  emaSlow: Series;
  bands: Bands;
  rsi: Series;
  macd: MacdLines;
}

export function computeAll(closes: readonly number[], p: IndicatorPeriods): IndicatorSeries {
  return {
    emaFast: ema(closes, p.emaFast),
    emaSlow: ema(closes, p.emaSlow),
    bands: bollinger(closes, p.bbPeriod, p.bbStd),
    rsi: rsi(closes, p.rsi),
    macd: macd(closes, p.macdFast, p.macdSlow, p.macdSignal),
  };
}
