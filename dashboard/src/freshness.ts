/**
 * What each panel tells the viewer about its numbers: `live`, `stale` or `reconnecting`.
 *
 * A panel is live only while the stream is live, the gateway does not call its data stale,
 * and its last update is younger than the panel's limit. Anything else says so on the panel:
 * nobody should take numbers from a dead connection, or from a paused upstream, for live ones.
 */

import type { Change, ConnectionState } from "@marketpulse/client";

export type PanelState = "live" | "stale" | "reconnecting" | "waiting";

export interface Freshness {
  /**
   * Wall-clock ms when the panel's data was produced (from `meta.age_s`, the data's own time,
   * or a frame's arrival).
   */
  readonly producedAt: number | null;
  /** The gateway marked the data stale (`meta.stale`). */
  readonly serverStale: boolean;
}

export const NEVER: Freshness = { producedAt: null, serverStale: false };

export function panelState(
  connection: ConnectionState,
  freshness: Freshness,
  now: number,
  maxAgeMs: number,
): PanelState {
  if (freshness.producedAt === null) return "waiting";
  if (connection === "stale") return "stale";
  if (connection !== "live") return "reconnecting";
  if (freshness.serverStale || now - freshness.producedAt > maxAgeMs) return "stale";
  return "live";
}

/** Freshness from a REST body's `meta` (`age_s` is the age when the gateway answered). */
export function fromMeta(
  meta: { readonly age_s: number | null; readonly stale: boolean } | undefined,
  now: number,
): Freshness {
  if (meta === undefined || meta.age_s === null) return NEVER;
  return { producedAt: now - meta.age_s * 1000, serverStale: meta.stale };
}

/**
 * A live update's freshness. A delta was produced just now. A snapshot (on subscribing, or
 * after a reconnection the gateway could not replay) carries no age, so the panel keeps the
 * age it had (from REST `meta`); a value never seen before is dated by its own time
 * (`producedAt`, from the data: it may have sat in the cache for hours), by its arrival only
 * when it has none.
 */
export function updated(
  change: Change,
  previous: Freshness,
  producedAt: number | null,
  now: number,
): Freshness {
  if (change.type === "delta") return { producedAt: now, serverStale: false };
  if (previous.producedAt !== null) return previous;
  // Never after now: a producer's clock a little ahead of this one's must not read "0s old".
  return { producedAt: Math.min(producedAt ?? now, now), serverStale: false };
}

/** When a candle was produced: at its close, its open time (epoch s) + the timeframe; ms. */
export function candleProducedAt(
  bar: { readonly t: number },
  tfSeconds: number | null,
): number | null {
  return tfSeconds === null ? null : (bar.t + tfSeconds) * 1000;
}

/** When a ticker's price was produced upstream: its `last_updated`; ms. */
export function tickerProducedAt(ticker: {
  readonly last_updated?: string | undefined;
}): number | null {
  const at = ticker.last_updated === undefined ? NaN : Date.parse(ticker.last_updated);
  return Number.isFinite(at) ? at : null;
}
