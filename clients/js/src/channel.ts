/**
 * One channel's state on the client: its value, its position, and which frames it accepts.
 * Pure: no I/O, no timers. The stream feeds it frames and acts on what it answers.
 *
 * Phases on one connection:
 *
 *     pending ──subscribe sent──► subscribing ──subscribed(recovered)──► live
 *                                     │                                    ▲
 *                                     └──subscribed(not recovered)──► awaiting-snapshot
 *
 * A delta is applied only when live and only when it follows the held seq exactly
 * (`prev_seq === seq`). One whose seq is not above the held seq is a repeat and is dropped.
 * One that skips ahead (a gap) or belongs to another epoch (the history was lost) cannot be
 * applied: the stream subscribes the channel again without a resume position, which brings
 * a fresh snapshot. Frames that arrive for the channel while it waits for its `subscribed`
 * or its snapshot were sent for an earlier subscription and are dropped too.
 *
 * A lost connection sends every channel back to `pending`, value and position kept: on the
 * next connection the stream resumes each from its `{epoch, seq}`.
 */

import { applyDelta, fromSnapshot, isObject } from "./merge.js";
import type { DeltaFrame, Position, SnapshotFrame, SubscribedFrame } from "./protocol.js";
import { compareSeq } from "./seq.js";

export type ChannelPhase = "pending" | "subscribing" | "awaiting-snapshot" | "live" | "failed";

/**
 * Why a snapshot replaced the value:
 * - `subscribe`: the first value of a new subscription;
 * - `reconnect`: after a reconnection whose resume was not possible (see `wasRecovering`);
 * - `gap`: a delta skipped an update, so the client asked for a fresh snapshot;
 * - `epoch`: the channel's history was lost and restarted (a new epoch);
 * - `restored`: the value saved with `positions()` and handed back as `resumeFrom`;
 * - `current`: told to a listener added to a channel that already had a value.
 */
export type SnapshotReason = "subscribe" | "reconnect" | "gap" | "epoch" | "restored" | "current";

export interface SnapshotChange {
  readonly type: "snapshot";
  readonly channel: string;
  /** null, with `seq`, while the channel has no value yet (the value is then undefined). */
  readonly epoch: string | null;
  readonly seq: string | null;
  readonly reason: SnapshotReason;
  /** A resume was attempted and the gateway could not recover the missed updates. */
  readonly wasRecovering: boolean;
}

export interface DeltaChange {
  readonly type: "delta";
  readonly channel: string;
  readonly epoch: string;
  readonly seq: string;
  readonly prevSeq: string | null;
  /** Top-level fields this update set. */
  readonly changed: readonly string[];
  /** Top-level fields this update removed (sent as null). */
  readonly removed: readonly string[];
}

/**
 * After a reconnection the gateway still had every missed update: they follow as deltas and
 * the value stays valid meanwhile. Told to listeners with the value unchanged.
 */
export interface RecoveredChange {
  readonly type: "recovered";
  readonly channel: string;
  readonly epoch: string;
  readonly seq: string;
}

export type Change = SnapshotChange | DeltaChange | RecoveredChange;

/** What a delta frame did to the channel when it did not simply apply. */
export type DeltaRefusal = "ignored" | "duplicate" | "gap" | "epoch";

/** A channel's value with its position, as `positions()` saves it and `resumeFrom` takes it. */
export interface SavedChannel {
  readonly epoch: string;
  readonly seq: string;
  readonly value: unknown;
}

export class ChannelState {
  readonly name: string;
  phase: ChannelPhase = "pending";
  value: unknown = undefined;
  epoch: string | null = null;
  seq: string | null = null;
  /** Set by a gap or an epoch change: the next subscribe must not resume. */
  private fresh = false;
  private nextReason: SnapshotReason = "subscribe";
  private resuming = false;

  /** The subscribe in flight carries a resume position. */
  get resumeSent(): boolean {
    return this.resuming;
  }

  constructor(name: string, saved?: SavedChannel) {
    this.name = name;
    if (saved !== undefined) {
      this.value = fromSnapshot(saved.value);
      this.epoch = saved.epoch;
      this.seq = saved.seq;
      this.nextReason = "reconnect";
    }
  }

  /** Where to resume from, when the next subscribe may resume. */
  resumePosition(): Position | null {
    if (this.fresh || this.epoch === null || this.seq === null) return null;
    return { epoch: this.epoch, seq: this.seq };
  }

  /** The held `{epoch, seq, value}`, when the channel has a value. */
  saved(): SavedChannel | null {
    if (this.epoch === null || this.seq === null) return null;
    return { epoch: this.epoch, seq: this.seq, value: this.value };
  }

  /** A subscribe op for this channel went out, resuming from `position` or not. */
  subscribeSent(position: Position | null): void {
    this.phase = "subscribing";
    this.resuming = position !== null;
  }

  /**
   * The connection is gone: subscribe again on the next one (resuming where possible). A
   * channel the gateway refused is asked for again too: the next gateway may serve it.
   */
  connectionLost(): void {
    this.phase = "pending";
    if (!this.fresh) this.nextReason = this.seq === null ? "subscribe" : "reconnect";
  }

  /** A subscribe was answered with an error that is worth retrying (rate limited, Redis). */
  retryLater(): void {
    if (this.phase === "subscribing") this.phase = "pending";
  }

  /** The gateway refused the channel (unknown, too many channels): not again on this connection. */
  fail(): void {
    this.phase = "failed";
  }

  /** The channel must be subscribed again without resuming, for `reason`. */
  requestResync(reason: "gap" | "epoch"): void {
    this.phase = "pending";
    this.fresh = true;
    this.nextReason = reason;
  }

  /** Returns the change to tell, null for none, or "resync" when the answer is unusable. */
  onSubscribed(frame: SubscribedFrame): RecoveredChange | null | "resync" {
    if (this.phase === "failed") return null;
    if (!frame.recovered) {
      this.phase = "awaiting-snapshot";
      return null;
    }
    if (this.epoch === null || this.seq === null) return "resync"; // recovered from nothing?
    this.phase = "live";
    this.resuming = false;
    return { type: "recovered", channel: this.name, epoch: this.epoch, seq: this.seq };
  }

  onSnapshot(frame: SnapshotFrame): SnapshotChange | null {
    if (this.phase !== "awaiting-snapshot") return null;
    const empty = frame.seq === null || frame.epoch === null;
    this.value = empty ? undefined : fromSnapshot(frame.data);
    this.epoch = empty ? null : frame.epoch;
    this.seq = empty ? null : frame.seq;
    this.phase = "live";
    const change: SnapshotChange = {
      type: "snapshot",
      channel: this.name,
      epoch: this.epoch,
      seq: this.seq,
      reason: this.nextReason,
      wasRecovering: this.resuming,
    };
    this.fresh = false;
    this.resuming = false;
    this.nextReason = "reconnect";
    return change;
  }

  /** Apply a delta; throws a TypeError for a seq that is not a stream position. */
  onDelta(frame: DeltaFrame): DeltaChange | DeltaRefusal {
    if (this.phase !== "live") return "ignored";
    const held = this.seq;
    if (held === null) {
      // No value yet: only a channel's very first update stands on its own.
      if (frame.prev_seq !== null) return "gap";
    } else {
      if (frame.epoch !== this.epoch) return "epoch";
      if (compareSeq(frame.seq, held) <= 0) return "duplicate";
      if (frame.prev_seq !== held) return "gap";
    }
    const data = frame.data;
    this.value = applyDelta(this.value, data);
    this.epoch = frame.epoch;
    this.seq = frame.seq;
    const changed: string[] = [];
    const removed: string[] = [];
    if (isObject(data)) {
      for (const key in data) (data[key] === null ? removed : changed).push(key);
    }
    return {
      type: "delta",
      channel: this.name,
      epoch: frame.epoch,
      seq: frame.seq,
      prevSeq: frame.prev_seq,
      changed,
      removed,
    };
  }
}
