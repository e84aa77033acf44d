/**
 * Reconnect delays: exponential with full jitter, as centrifuge-js does it. Pure but for the
 * random source, which is injectable.
 *
 * Attempt n (from 0) waits `min + random(0, min(max, min·2ⁿ))`, capped at `max`: 0.5–1 s,
 * then 0.5–1.5 s, 0.5–2.5 s, … up to 20 s. Full jitter spreads the clients a gateway restart
 * dropped all at once, so they do not come back in one wave; the floor keeps a client from
 * hammering a gateway that closes it right after accepting.
 */

export interface BackoffOptions {
  /** Smallest delay, ms (default 500). */
  readonly minMs?: number;
  /** Largest delay, ms (default 20 000). */
  readonly maxMs?: number;
}

export const DEFAULT_MIN_BACKOFF_MS = 500;
export const DEFAULT_MAX_BACKOFF_MS = 20_000;

export class Backoff {
  readonly minMs: number;
  readonly maxMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}, random: () => number = () => Math.random()) {
    this.minMs = options.minMs ?? DEFAULT_MIN_BACKOFF_MS;
    this.maxMs = options.maxMs ?? DEFAULT_MAX_BACKOFF_MS;
    if (!(this.minMs >= 0 && this.maxMs >= this.minMs)) {
      throw new RangeError("backoff needs 0 <= minMs <= maxMs");
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
