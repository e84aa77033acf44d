/**
 * The candle chart: candles, volume, EMA and Bollinger overlays in the main pane, RSI and MACD
 * in their own panes (lightweight-charts v5). It draws what a CandleBook decides: `update()`
 * for an appended or replaced bar, `setData` for a reset or a new history. Times are UTC
 * seconds; labels are formatted in the viewer's zone. The library's attribution logo stays on
 * (its licence asks for it). `dispose()` calls `chart.remove()`.
 */

import {
  CandlestickSeries,
  ColorType,
  createChart,
  HistogramSeries,
  LineSeries,
  type IChartApi,
  type ISeriesApi,
  type Time,
  type UTCTimestamp,
  type WhitespaceData,
  type LineData,
  type HistogramData,
} from "lightweight-charts";

import type { Bar, Push } from "./candles.js";
import { localTime } from "./format.js";
import { computeAll, DEFAULT_PERIODS, type IndicatorPeriods, type Series } from "./indicators.js";

const UP = "#26a69a";
const DOWN = "#ef5350";

type Line = ISeriesApi<"Line">;

function point(bar: Bar, value: number | null): LineData<Time> | WhitespaceData<Time> {
  const time = bar.t as UTCTimestamp;
  return value === null ? { time } : { time, value };
}

export class CandleChart {
  private readonly chart: IChartApi;
  private readonly candles: ISeriesApi<"Candlestick">;
  private readonly volume: ISeriesApi<"Histogram">;
  private readonly lines: Record<string, Line>;
  private readonly macdHist: ISeriesApi<"Histogram">;
  /** Points drawn per series, for the page's diagnostics (and the browser tests). */
  counts = { candles: 0, overlays: 0 };

  constructor(container: HTMLElement) {
    this.chart = createChart(container, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: "#11151c" },
        textColor: "#c7ccd6",
        attributionLogo: true,
        panes: { separatorColor: "#2a2f3a" },
      },
      grid: { vertLines: { color: "#1c212b" }, horzLines: { color: "#1c212b" } },
      localization: { timeFormatter: (time: Time) => localTime(time as number) },
      timeScale: { timeVisible: true, secondsVisible: false },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      wickUpColor: UP,
      wickDownColor: DOWN,
      borderVisible: false,
    });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: "volume",
      priceFormat: { type: "volume" },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.volume.priceScale().applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
    const overlay = { lineWidth: 1, lastValueVisible: false, priceLineVisible: false } as const;
    const band = { ...overlay, color: "rgba(120, 144, 200, 0.8)", lineStyle: 2 } as const;
    this.lines = {
      emaFast: this.chart.addSeries(LineSeries, { ...overlay, color: "#f6c85f" }),
      emaSlow: this.chart.addSeries(LineSeries, { ...overlay, color: "#c77dff" }),
      bbUpper: this.chart.addSeries(LineSeries, band),
      bbMiddle: this.chart.addSeries(LineSeries, { ...band, lineStyle: 0 }),
      bbLower: this.chart.addSeries(LineSeries, band),
      rsi: this.chart.addSeries(LineSeries, { color: "#7fd1ff", lineWidth: 1 }, 1),
      macd: this.chart.addSeries(LineSeries, { color: "#7fd1ff", lineWidth: 1 }, 2),
      macdSignal: this.chart.addSeries(LineSeries, { color: "#ff9f43", lineWidth: 1 }, 2),
    };
    this.macdHist = this.chart.addSeries(
      HistogramSeries,
      { lastValueVisible: false, priceLineVisible: false },
      2,
    );
    const panes = this.chart.panes();
    panes[0]?.setStretchFactor(3);
    panes[1]?.setStretchFactor(1);
    panes[2]?.setStretchFactor(1);
  }

  /** Draw a whole history (first paint, a switch, or a trimmed book). */
  setHistory(bars: readonly Bar[], periods: IndicatorPeriods): void {
    this.candles.setData(bars.map(candleData));
    this.volume.setData(bars.map(volumeData));
    const { lines, hist } = columns(bars, periods);
    for (const [name, values] of Object.entries(lines)) {
      this.lines[name]!.setData(bars.map((bar, i) => point(bar, values[i] ?? null)));
    }
    this.macdHist.setData(bars.map((bar, i) => histData(bar, hist[i] ?? null)));
    this.counts = { candles: bars.length, overlays: countDefined(lines["emaFast"]!) };
  }

  /** Draw what `CandleBook.push` decided for its newest bar. */
  apply(push: Push, bars: readonly Bar[], periods: IndicatorPeriods): void {
    if (push === "drop") return;
    if (push === "reset") {
      this.setHistory(bars, periods);
      return;
    }
    const bar = bars[bars.length - 1];
    if (bar === undefined) return;
    this.candles.update(candleData(bar));
    this.volume.update(volumeData(bar));
    // The indicators of the newest bar depend on the whole history before it.
    const { lines, hist } = columns(bars, periods);
    const last = bars.length - 1;
    for (const [name, values] of Object.entries(lines)) {
      this.lines[name]!.update(point(bar, values[last] ?? null));
    }
    this.macdHist.update(histData(bar, hist[last] ?? null));
    this.counts = { candles: bars.length, overlays: countDefined(lines["emaFast"]!) };
  }

  clear(): void {
    this.setHistory([], DEFAULT_PERIODS);
  }

  dispose(): void {
    this.chart.remove();
  }
}

/** The line series' values (by series name) and the MACD histogram, one per bar. */
function columns(
  bars: readonly Bar[],
  periods: IndicatorPeriods,
): { lines: Record<string, Series>; hist: Series } {
  const all = computeAll(
    bars.map((bar) => bar.c),
    periods,
  );
  return {
    lines: {
      emaFast: all.emaFast,
      emaSlow: all.emaSlow,
      bbUpper: all.bands.upper,
      bbMiddle: all.bands.middle,
      bbLower: all.bands.lower,
      rsi: all.rsi,
      macd: all.macd.macd,
      macdSignal: all.macd.signal,
    },
    hist: all.macd.hist,
  };
}

function countDefined(values: Series): number {
  return values.reduce<number>((n, v) => (v === null ? n : n + 1), 0);
}

function candleData(bar: Bar): {
  time: UTCTimestamp;
  open: number;
  high: number;
  low: number;
  close: number;
} {
  return { time: bar.t as UTCTimestamp, open: bar.o, high: bar.h, low: bar.l, close: bar.c };
}

function volumeData(bar: Bar): HistogramData<Time> | WhitespaceData<Time> {
  const time = bar.t as UTCTimestamp;
  if (bar.v === undefined || bar.v === null) return { time };
  return {
    time,
    value: bar.v,
    color: bar.c >= bar.o ? "rgba(38,166,154,0.4)" : "rgba(239,83,80,0.4)",
  };
}

function histData(bar: Bar, value: number | null): HistogramData<Time> | WhitespaceData<Time> {
  const time = bar.t as UTCTimestamp;
  if (value === null) return { time };
  return { time, value, color: value >= 0 ? "rgba(38,166,154,0.6)" : "rgba(239,83,80,0.6)" };
}
