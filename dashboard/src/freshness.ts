/**
 * What each panel tells the viewer about its numbers: `live`, `stale` or `reconnecting`.
 *
 * A panel is live only while the stream is live, the gateway does not call its data stale,
 * and its last update is younger than the panel's limit. Anything else says so on the panel:
 * nobody should take numbers from a dead connection, or from a paused upstream, for live ones.
 */

import type { ConnectionState } from "@marketpulse/client";

export type PanelState = "live" | "stale" | "reconnecting" | "waiting";

export interface Freshness {
  /** Wall-clock ms when the panel's data was produced (from `meta.age_s` or a frame's arrival). */
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
