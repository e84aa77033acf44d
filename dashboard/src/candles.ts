/**
 * The candles the chart holds for one asset and timeframe: ordered by open time, bounded.
 *
 * lightweight-charts' `update()` throws for a bar older than the last one and has no way to
 * drop bars from the front, so this decides, per incoming candle, what the chart must do:
 * append it, replace the last bar (same open time: a correction), drop it (older than the
 * last: out of order), or redraw everything (`reset`: the history was trimmed to its bound).
 */

export interface Bar {
  readonly t: number; // open time, UTC epoch seconds
  readonly o: number;
  readonly h: number;
  readonly l: number;
  readonly c: number;
  readonly v?: number | null | undefined;
}

export type Push = "append" | "replace" | "drop" | "reset";

export class CandleBook {
  private bars: Bar[] = [];
  dropped = 0;

  /** `limit` bars are kept; the history is trimmed back to it once it grows by `slack`. */
  constructor(
    readonly limit: number,
    readonly slack = Math.max(1, Math.ceil(limit / 4)),
  ) {}

  get size(): number {
    return this.bars.length;
  }

  get all(): readonly Bar[] {
    return this.bars;
  }

  get last(): Bar | undefined {
    return this.bars[this.bars.length - 1];
  }

  /** Replace the history (a REST first paint): sorted, one bar per open time, bounded. */
  load(bars: readonly Bar[]): void {
    const byTime = new Map<number, Bar>();
    for (const bar of bars) byTime.set(bar.t, bar);
    this.bars = [...byTime.values()].sort((a, b) => a.t - b.t).slice(-this.limit);
  }

  push(bar: Bar): Push {
    const last = this.last;
    if (last !== undefined && bar.t < last.t) {
      this.dropped += 1;
      return "drop";
    }
    if (last !== undefined && bar.t === last.t) {
      this.bars[this.bars.length - 1] = bar;
      return "replace";
    }
    this.bars.push(bar);
    if (this.bars.length > this.limit + this.slack) {
      this.bars = this.bars.slice(-this.limit);
      return "reset";
    }
    return "append";
  }
}
