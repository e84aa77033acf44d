/**
 * Reconnect delays: exponential with full jitter, as centrifuge-js does it. Pure but for the
 * random source, which is injectable.
 *
 * Attempt n (from 0) waits `min + random(0, min(max, min·2ⁿ))`, capped at `max`: 0.5–1 s,
 * then 0.5–1.5 s, 0.5–2.5 s, … up to 20 s. Full jitter spreads the clients a gateway restart
 * dropped all at once, so they do not come back in one wave; the floor keeps a client from
 * hammering a gateway that closes it right after accepting.
 */

import { MarketPulseConfigError } from "./errors.js";

export interface BackoffOptions {
  /** Smallest delay, ms, above 0 (default 500). */
  readonly minMs?: number;
  /** Largest delay, ms, at least `minMs` and at most 2³¹−1 (default 20 000). */
  readonly maxMs?: number;
}

export const DEFAULT_MIN_BACKOFF_MS = 500;
export const DEFAULT_MAX_BACKOFF_MS = 20_000;
/** setTimeout's longest delay (2³¹−1 ms); browsers and Node fire a longer one at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export class Backoff {
  readonly minMs: number;
  readonly maxMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}, random: () => number = () => Math.random()) {
    this.minMs = options.minMs ?? DEFAULT_MIN_BACKOFF_MS;
    this.maxMs = options.maxMs ?? DEFAULT_MAX_BACKOFF_MS;
    // A floor of 0 stays 0 however often it doubles (a reconnect loop with no pause), and a
    // timer asked to wait longer than it can fires at once; NaN fails every comparison.
    if (!(this.minMs > 0 && this.minMs <= this.maxMs && this.maxMs <= MAX_TIMER_MS)) {
      throw new MarketPulseConfigError(
        `backoff needs 0 < minMs <= maxMs <= ${MAX_TIMER_MS} ms; got minMs ${this.minMs}, maxMs ${this.maxMs}`,
      );
    }
    this.random = random;
  }

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt, ms; each call backs off further. */
  next(): number {
    const step = Math.min(this.attempt, 30);
    this.attempt += 1;
    const spread = Math.min(this.maxMs, this.minMs * 2 ** step);
    return Math.min(this.maxMs, this.minMs + this.random() * spread);
  }

  /** Start again from the smallest delay (after a connection proved stable). */
  reset(): void {
    this.attempt = 0;
  }
}
