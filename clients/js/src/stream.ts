/**
 * One WebSocket to `/v1/stream`, shared by every channel the app subscribes to: it keeps the
 * subscriptions, feeds frames to each channel's state (channel.ts), and keeps the connection
 * alive — heartbeat watchdog, reconnection with backoff, resume on every new connection.
 *
 * Connection states:
 *
 *     idle ─► connecting ─► live ◄──► stale            (stale: a heartbeat is late)
 *                │           │          │
 *                ▼           ▼          ▼
 *            reconnecting ◄──────────────┘  (closed, dead, or refused: wait, then retry)
 *                │
 *                └─► live … ;  closed: close() was called, or a fatal error stopped it
 *
 * Close policy (what the gateway's close codes make the client do):
 * - 4008 (too slow), 1001/1012 (gateway stopping), 1006 (network), anything unknown:
 *   reconnect after a backoff and resume every channel;
 * - 1008 (the connection kept breaking the gateway's limits) and 1009 (a message too big):
 *   reconnecting would repeat it, so the client stops with a fatal `MarketPulseStreamError`
 *   (`policy` / `too_big`); `connect()` starts it again;
 * - a handshake that fails (the socket never opens) is retried with backoff; when a `probe`
 *   is configured (the client's REST key check), a refused API key (401/403) stops the client
 *   with a fatal `auth` error instead of retrying forever, and a 429/503 waits at least its
 *   Retry-After.
 */

import { Backoff, type BackoffOptions, MAX_TIMER_MS } from "./backoff.js";
import {
  type Change,
  type ChannelPhase,
  ChannelState,
  type SavedChannel,
  type SnapshotChange,
} from "./channel.js";
import { Emitter } from "./emitter.js";
import { MarketPulseConfigError, MarketPulseError, MarketPulseStreamError } from "./errors.js";
import {
  CloseCode,
  type DeltaFrame,
  type ErrorFrame,
  HEARTBEAT_INTERVAL_MS,
  MAX_CHANNELS_PER_OP,
  type Position,
  type SnapshotFrame,
  type SubscribedFrame,
} from "./protocol.js";
import { isSeq } from "./seq.js";
import type {
  MessageEventLike,
  NetworkEvents,
  WebSocketConstructor,
  WebSocketLike,
} from "./transport.js";

export type ConnectionState = "idle" | "connecting" | "live" | "stale" | "reconnecting" | "closed";

/** Called with the channel's current value (undefined while it has none) and what changed. */
export type Listener<V = unknown> = (value: V | undefined, change: Change) => void;

export interface SubscribeOptions {
  /** Told when the gateway refuses this channel (e.g. `unknown_channel`). */
  readonly onError?: (error: MarketPulseStreamError) => void;
}

/** What a failed handshake's probe found out. */
export interface ProbeVerdict {
  /** Stop: the gateway refuses this client (the key). */
  readonly fatal?: MarketPulseError;
  /** Wait at least this long before the next attempt. */
  readonly retryAfterMs?: number;
}

export interface StreamEvents extends Record<string, unknown[]> {
  state: [state: ConnectionState, previous: ConnectionState];
  error: [error: MarketPulseError];
}

export interface StreamOptions {
  readonly url: string;
  readonly WebSocket?: WebSocketConstructor | undefined;
  readonly heartbeatMs?: number | undefined;
  readonly staleAfterMs?: number | undefined;
  readonly deadAfterMs?: number | undefined;
  readonly stableAfterMs?: number | undefined;
  /** A handshake not answered within this is given up on and retried (default 10 000 ms). */
  readonly openTimeoutMs?: number | undefined;
  readonly backoff?: BackoffOptions | undefined;
  readonly resumeFrom?: Readonly<Record<string, SavedChannel>> | undefined;
  readonly networkEvents?: NetworkEvents | null | undefined;
  readonly probe?: (() => Promise<ProbeVerdict>) | null | undefined;
  /** Largest subscribe op to send, in characters (the gateway takes 16 KiB by default). */
  readonly maxOpChars?: number | undefined;
  readonly random?: (() => number) | undefined;
  readonly now?: (() => number) | undefined;
}

export interface ChannelDiagnostics {
  readonly phase: ChannelPhase;
  readonly epoch: string | null;
  readonly seq: string | null;
  readonly listeners: number;
}

/** Counters since the client was created; a plain, JSON-serialisable copy on every read. */
export interface StreamDiagnostics {
  readonly state: ConnectionState;
  /** Connections opened. */
  readonly connects: number;
  /** Reconnections scheduled (after a close, a dead connection or a failed handshake). */
  readonly reconnects: number;
  /** Connections that never opened. */
  readonly handshakeFailures: number;
  /** Connections dropped because nothing was heard for `deadAfterMs`. */
  readonly deadConnections: number;
  readonly framesReceived: number;
  /** Snapshots and deltas applied to a channel's value. */
  readonly framesApplied: number;
  readonly snapshotsApplied: number;
  readonly deltasApplied: number;
  /** Deltas dropped because their seq was not above the held one. */
  readonly duplicates: number;
  /** Frames dropped because they belonged to an earlier subscription of the channel, or to one left. */
  readonly ignored: number;
  /** Channels left whose frames kept coming past the grace period: unsubscribed again. */
  readonly unsubscribesRepeated: number;
  /** Deltas whose prev_seq was not the held seq. */
  readonly gaps: number;
  /** Deltas from another epoch than the held one. */
  readonly epochChanges: number;
  /** Subscribes sent again without resume, for a gap or an epoch change. */
  readonly resyncs: number;
  /** Resumes the gateway recovered (missed updates replayed, no snapshot). */
  readonly recovered: number;
  /** Resumes it could not recover (a snapshot came instead). */
  readonly notRecovered: number;
  readonly heartbeats: number;
  readonly errorFrames: number;
  /** When the last frame arrived (ms since the epoch), null before any. */
  readonly lastFrameAt: number | null;
  readonly lastCloseCode: number | null;
  /** How many connections ended with each close code (1006 for a connection that just died). */
  readonly closeCodes: Readonly<Record<number, number>>;
  readonly lastError: string | null;
  readonly channels: Readonly<Record<string, ChannelDiagnostics>>;
}

type Counters = {
  -readonly [
    K in keyof StreamDiagnostics as StreamDiagnostics[K] extends number ? K : never
  ]: number;
};

interface Subscriber {
  readonly listener: Listener;
  readonly onError: ((error: MarketPulseStreamError) => void) | undefined;
}

interface Entry {
  readonly state: ChannelState;
  readonly subscribers: Set<Subscriber>;
  /** The last listener left; it is dropped (and unsubscribed) on the next flush. */
  leaving: boolean;
  /** The gateway knows this subscription on the current connection. */
  sent: boolean;
}

export const DEFAULT_STABLE_AFTER_MS = 10_000;
// As the Python client's open timeout: a gateway or proxy that takes the connection and never
// answers the upgrade must not leave the client connecting for ever.
export const DEFAULT_OPEN_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_OP_CHARS = 8_192;
// The gateway's longest channel name and position token (protocol.py); longer is refused.
const MAX_CHANNEL_NAME = 96;
const MAX_POSITION_TOKEN = 48;
// Client-chosen close code for a connection the client gave up on (private-use range).
const CLOSE_CLIENT_GAVE_UP = 4000;
// Frames of a channel left may still be in flight for a while after its unsubscribe; past
// this, they mean the gateway still holds it (the unsubscribe was refused, say as
// rate_limited): it is told again, at most once per this period.
export const STRAY_GRACE_MS = 5_000;

export class Stream {
  private readonly url: string;
  private readonly WebSocketImpl: WebSocketConstructor | undefined;
  private readonly staleAfterMs: number;
  private readonly deadAfterMs: number;
  private readonly stableAfterMs: number;
  private readonly openTimeoutMs: number;
  private readonly backoff: Backoff;
  private readonly retryBackoff: Backoff;
  private readonly saved: Map<string, SavedChannel>;
  private readonly networkEvents: NetworkEvents | null;
  private readonly probe: (() => Promise<ProbeVerdict>) | null;
  private readonly maxOpChars: number;
  private readonly now: () => number;
  private readonly emitter: Emitter<StreamEvents>;
  private readonly channels = new Map<string, Entry>();
  /** When each channel not held was last unsubscribed on this connection. */
  private readonly toldAt = new Map<string, number>();
  /** Channels not held whose frames still arrive: to unsubscribe on the next flush. */
  private readonly strays = new Set<string>();

  private current: ConnectionState = "idle";
  private socket: WebSocketLike | null = null;
  private opened = false;
  private everOpened = false;
  private stopped = false;
  /** Counts `stop()`s: a step that emits a state change checks it did not change under it. */
  private stops = 0;
  private flushQueued = false;
  private reporting = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdogTimer: ReturnType<typeof setTimeout> | null = null;
  private stableTimer: ReturnType<typeof setTimeout> | null = null;
  private onlineListener: (() => void) | null = null;
  private lastFrameAt: number | null = null;
  private lastCloseCode: number | null = null;
  private readonly closeCodes: Record<number, number> = {};
  private lastError: string | null = null;
  private readonly counters: Counters = {
    connects: 0,
    reconnects: 0,
    handshakeFailures: 0,
    deadConnections: 0,
    framesReceived: 0,
    framesApplied: 0,
    snapshotsApplied: 0,
    deltasApplied: 0,
    duplicates: 0,
    ignored: 0,
    unsubscribesRepeated: 0,
    gaps: 0,
    epochChanges: 0,
    resyncs: 0,
    recovered: 0,
    notRecovered: 0,
    heartbeats: 0,
    errorFrames: 0,
  };

  constructor(options: StreamOptions) {
    this.url = options.url;
    this.WebSocketImpl = options.WebSocket;
    const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_INTERVAL_MS;
    this.deadAfterMs = options.deadAfterMs ?? 2 * heartbeatMs;
    this.staleAfterMs = Math.min(options.staleAfterMs ?? 1.2 * heartbeatMs, this.deadAfterMs);
    this.stableAfterMs = options.stableAfterMs ?? DEFAULT_STABLE_AFTER_MS;
    this.openTimeoutMs = options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    const random = options.random ?? (() => Math.random());
    this.backoff = new Backoff(options.backoff, random);
    // Retrying a subscribe the gateway refused for now (rate limited, Redis down).
    const maxMs = this.backoff.maxMs;
    this.retryBackoff = new Backoff({ minMs: Math.min(1_000, maxMs), maxMs }, random);
    this.saved = new Map(Object.entries(options.resumeFrom ?? {}).filter(([, s]) => usable(s)));
    this.networkEvents =
      options.networkEvents === undefined ? browserWindow() : options.networkEvents;
    this.probe = options.probe ?? null;
    this.maxOpChars = options.maxOpChars ?? DEFAULT_MAX_OP_CHARS;
    this.now = options.now ?? Date.now;
    this.emitter = new Emitter((error) => this.listenerFailed(error));
  }

  get state(): ConnectionState {
    return this.current;
  }

  on<K extends keyof StreamEvents>(
    event: K,
    listener: (...args: StreamEvents[K]) => void,
  ): () => void {
    return this.emitter.on(event, listener);
  }

  /**
   * Add a listener to `channel`; the first one subscribes it on the gateway, and the
   * connection is opened if it is not. Returns the function that removes this listener.
   */
  subscribe(channel: string, listener: Listener, options: SubscribeOptions = {}): () => void {
    checkChannelName(channel);
    if (this.current === "idle") this.connect();
    const subscriber: Subscriber = { listener, onError: options.onError };
    let entry = this.channels.get(channel);
    if (entry === undefined) {
      const saved = this.saved.get(channel);
      this.saved.delete(channel);
      entry = {
        state: new ChannelState(channel, saved),
        subscribers: new Set(),
        leaving: false,
        sent: false,
      };
      this.channels.set(channel, entry);
      if (saved !== undefined) this.tellLater(entry, subscriber, "restored");
      this.queueFlush();
    } else {
      if (entry.leaving) entry.leaving = false;
      if (entry.state.phase === "live" || entry.state.saved() !== null)
        this.tellLater(entry, subscriber, "current");
    }
    entry.subscribers.add(subscriber);
    const owner = entry;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      owner.subscribers.delete(subscriber);
      if (owner.subscribers.size === 0 && this.channels.get(channel) === owner) {
        owner.leaving = true;
        this.queueFlush();
      }
    };
  }

  /** The channel's current value (undefined when it has none or is not subscribed). */
  value(channel: string): unknown {
    return this.channels.get(channel)?.state.value;
  }

  /**
   * `{epoch, seq, value}` of every subscribed channel that has a value: JSON-serialisable,
   * to be stored (e.g. in sessionStorage) and handed back as `resumeFrom` after a page load.
   * Saved positions of channels not subscribed again yet are included too.
   */
  positions(): Record<string, SavedChannel> {
    const out: Record<string, SavedChannel> = Object.fromEntries(this.saved);
    for (const [name, entry] of this.channels) {
      const saved = entry.state.saved();
      if (saved !== null && !entry.leaving) out[name] = saved;
    }
    return out;
  }

  get diagnostics(): StreamDiagnostics {
    const channels: Record<string, ChannelDiagnostics> = {};
    for (const [name, entry] of this.channels) {
      if (entry.leaving) continue;
      const { phase, epoch, seq } = entry.state;
      channels[name] = { phase, epoch, seq, listeners: entry.subscribers.size };
    }
    return {
      state: this.current,
      ...this.counters,
      lastFrameAt: this.lastFrameAt,
      lastCloseCode: this.lastCloseCode,
      closeCodes: { ...this.closeCodes },
      lastError: this.lastError,
      channels,
    };
  }

  /** Open the connection (done by the first `subscribe`); after `close()`, start again. */
  connect(): void {
    if (this.current !== "idle" && this.current !== "closed") return;
    this.implementation(); // fail here, in the caller's hands, when there is none
    this.stopped = false;
    this.everOpened = false;
    this.listenForNetwork();
    this.open();
  }

  /** Close the connection and stop reconnecting; values and positions are kept. */
  close(): void {
    this.stop();
    this.setState("closed");
  }

  // --- connection ------------------------------------------------------------------------

  private open(): void {
    this.reconnectTimer = null;
    const Impl = this.implementation();
    if (!this.setState(this.retrying())) return;
    this.opened = false;
    let socket: WebSocketLike;
    try {
      socket = new Impl(this.url);
    } catch (error) {
      this.fail(
        new MarketPulseConfigError(`cannot open ${redact(this.url)}: ${String(error)}`, {
          cause: error,
        }),
      );
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket === socket) this.onOpen();
    };
    socket.onmessage = (event: MessageEventLike) => {
      if (this.socket === socket) this.onMessage(event);
    };
    socket.onclose = (event) => {
      if (this.socket === socket) this.onClosed(event.code);
    };
    socket.onerror = () => {
      // Always followed by a close event, which is where the client acts.
    };
    // Until it opens, the watchdog waits for the handshake (onOpen rearms it for heartbeats).
    this.clearTimer("watchdogTimer");
    this.watchdogTimer = setTimeout(() => this.handshakeTimedOut(socket), this.openTimeoutMs);
  }

  /** The handshake was not answered in time: give that socket up, as a failed handshake. */
  private handshakeTimedOut(socket: WebSocketLike): void {
    this.watchdogTimer = null;
    if (this.socket !== socket || this.opened || this.stopped) return;
    this.closeSocket(CLOSE_CLIENT_GAVE_UP, "handshake timed out");
    this.counters.handshakeFailures += 1;
    this.afterHandshakeFailure();
  }

  private implementation(): WebSocketConstructor {
    const Impl =
      this.WebSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (Impl === undefined) {
      throw new MarketPulseConfigError(
        "no WebSocket implementation: this runtime has no global WebSocket (Node 20 has none). " +
          'Pass one as the `WebSocket` option, e.g. `import WebSocket from "ws"; ' +
          "new MarketPulse({ url, WebSocket })`.",
      );
    }
    return Impl;
  }

  private onOpen(): void {
    this.opened = true;
    this.everOpened = true;
    this.counters.connects += 1;
    this.lastFrameAt = this.now();
    if (!this.setState("live")) return;
    this.watch(this.staleAfterMs);
    this.stableTimer = setTimeout(() => {
      this.stableTimer = null;
      this.backoff.reset();
    }, this.stableAfterMs);
    this.flush();
  }

  /** The socket closed (or was given up on): decide between reconnecting and stopping. */
  private onClosed(code: number | null): void {
    const wasOpen = this.opened;
    this.dropSocket();
    this.lastCloseCode = code;
    if (code !== null) this.closeCodes[code] = (this.closeCodes[code] ?? 0) + 1;
    if (this.stopped) return;
    if (wasOpen && code === CloseCode.POLICY) {
      this.fail(
        new MarketPulseStreamError(
          "policy",
          "the gateway closed the stream for breaking its limits (1008); not reconnecting",
          { fatal: true, closeCode: code },
        ),
      );
    } else if (wasOpen && code === CloseCode.TOO_BIG) {
      this.fail(
        new MarketPulseStreamError(
          "too_big",
          "the gateway closed the stream: a message was over its size limit (1009); not reconnecting",
          { fatal: true, closeCode: code },
        ),
      );
    } else if (!wasOpen) {
      this.counters.handshakeFailures += 1;
      this.afterHandshakeFailure();
    } else {
      this.scheduleReconnect(0);
    }
  }

  private afterHandshakeFailure(): void {
    if (this.probe === null) {
      this.scheduleReconnect(0);
      return;
    }
    if (!this.setState(this.retrying())) return;
    const probe = this.probe;
    probe().then(
      (verdict) => {
        if (this.stopped || this.socket !== null || this.reconnectTimer !== null) return;
        if (verdict.fatal !== undefined) {
          this.fail(
            new MarketPulseStreamError(
              "auth",
              `the gateway refused the connection: ${verdict.fatal.message}`,
              {
                fatal: true,
                cause: verdict.fatal,
              },
            ),
          );
        } else {
          this.scheduleReconnect(verdict.retryAfterMs ?? 0);
        }
      },
      () => {
        if (!this.stopped && this.socket === null && this.reconnectTimer === null)
          this.scheduleReconnect(0);
      },
    );
  }

  /** `connecting` until the first connection opened, `reconnecting` after. */
  private retrying(): ConnectionState {
    return this.everOpened ? "reconnecting" : "connecting";
  }

  private scheduleReconnect(atLeastMs: number): void {
    if (!this.setState(this.retrying())) return;
    this.counters.reconnects += 1;
    // Capped: a timer asked for more than it can wait fires at once (a reconnect loop).
    const delay = Math.min(MAX_TIMER_MS, Math.max(this.backoff.next(), atLeastMs));
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  /** The browser says the network is back: retry now instead of at the end of the backoff. */
  private onOnline(): void {
    if (this.reconnectTimer === null || this.stopped) return;
    clearTimeout(this.reconnectTimer);
    this.open();
  }

  /** Forget the socket: handlers detached, closed without waiting, timers and channels reset. */
  private dropSocket(): void {
    const socket = this.socket;
    this.socket = null;
    this.opened = false;
    this.clearTimer("watchdogTimer");
    this.clearTimer("stableTimer");
    this.clearTimer("retryTimer");
    if (socket !== null) {
      // No-ops rather than null: `ws` throws an error event nobody listens to (closing a
      // socket that is still connecting emits one), and that would crash the process.
      socket.onopen = ignore;
      socket.onmessage = ignore;
      socket.onclose = ignore;
      socket.onerror = ignore;
    }
    for (const [name, entry] of this.channels) {
      if (entry.leaving) this.channels.delete(name);
      else {
        entry.sent = false;
        entry.state.connectionLost();
      }
    }
    this.toldAt.clear(); // the gateway forgot every subscription with the connection
    this.strays.clear();
  }

  private closeSocket(code: number, reason: string): void {
    const socket = this.socket;
    if (socket === null) return;
    this.dropSocket();
    try {
      if (socket.terminate !== undefined) socket.terminate();
      else socket.close(code, reason);
    } catch {
      // A socket still connecting may refuse to close politely; it is dropped either way.
    }
  }

  private stop(): void {
    this.stopped = true;
    this.stops += 1;
    this.clearTimer("reconnectTimer");
    this.closeSocket(CloseCode.NORMAL, "client closed");
    this.stopListeningForNetwork();
  }

  private fail(error: MarketPulseError): void {
    this.stop();
    this.report(error);
    this.setState("closed");
  }

  /** Reschedule the heartbeat watchdog to look again in `ms`. */
  private watch(ms: number): void {
    this.clearTimer("watchdogTimer");
    this.watchdogTimer = setTimeout(() => this.checkHeartbeat(), Math.max(0, ms));
  }

  private checkHeartbeat(): void {
    this.watchdogTimer = null;
    if (this.socket === null || !this.opened || this.lastFrameAt === null) return;
    const silent = this.now() - this.lastFrameAt;
    if (silent > this.deadAfterMs) {
      this.counters.deadConnections += 1;
      this.closeSocket(CLOSE_CLIENT_GAVE_UP, "no heartbeat");
      this.scheduleReconnect(0);
    } else if (silent > this.staleAfterMs) {
      if (!this.setState("stale")) return;
      this.watch(this.deadAfterMs - silent + 1);
    } else {
      this.watch(this.staleAfterMs - silent + 1);
    }
  }

  // --- frames ----------------------------------------------------------------------------

  private onMessage(event: MessageEventLike): void {
    this.counters.framesReceived += 1;
    this.lastFrameAt = this.now();
    if (this.current === "stale" && !this.setState("live")) return;
    const data = event.data;
    if (typeof data !== "string") {
      this.protocolError("a binary frame");
      return;
    }
    let frame: { type?: unknown };
    try {
      frame = JSON.parse(data) as { type?: unknown };
    } catch {
      this.protocolError("a frame that is not JSON");
      return;
    }
    switch (frame.type) {
      case "delta":
        this.onDelta(frame as DeltaFrame);
        break;
      case "heartbeat":
        this.counters.heartbeats += 1;
        break;
      case "snapshot":
        this.onSnapshot(frame as SnapshotFrame);
        break;
      case "subscribed":
        this.onSubscribed(frame as SubscribedFrame);
        break;
      case "error":
        this.onErrorFrame(frame as ErrorFrame);
        break;
      default:
        // pong, and frame types a newer gateway may add: nothing to do.
        break;
    }
  }

  private onDelta(frame: DeltaFrame): void {
    const entry = this.channels.get(frame.channel);
    if (entry === undefined) {
      this.stray(frame.channel);
      return;
    }
    let result;
    try {
      result = entry.state.onDelta(frame);
    } catch (error) {
      this.protocolError(`a delta with a bad position (${String(error)})`);
      return;
    }
    switch (result) {
      case "ignored":
        this.counters.ignored += 1;
        return;
      case "duplicate":
        this.counters.duplicates += 1;
        return;
      case "gap":
        this.counters.gaps += 1;
        this.resync(entry, "gap");
        return;
      case "epoch":
        this.counters.epochChanges += 1;
        this.resync(entry, "epoch");
        return;
      default:
        this.counters.deltasApplied += 1;
        this.counters.framesApplied += 1;
        this.tell(entry, result);
    }
  }

  private onSnapshot(frame: SnapshotFrame): void {
    const entry = this.channels.get(frame.channel);
    if (entry === undefined) {
      this.stray(frame.channel);
      return;
    }
    const change = entry.state.onSnapshot(frame);
    if (change === null) {
      this.counters.ignored += 1;
      return;
    }
    this.counters.snapshotsApplied += 1;
    this.counters.framesApplied += 1;
    this.tell(entry, change);
  }

  private onSubscribed(frame: SubscribedFrame): void {
    const entry = this.channels.get(frame.channel);
    if (entry === undefined) {
      this.stray(frame.channel);
      return;
    }
    const resuming = entry.state.resumeSent;
    const result = entry.state.onSubscribed(frame);
    entry.sent = true;
    this.retryBackoff.reset();
    if (frame.recovered) this.counters.recovered += 1;
    else if (resuming) this.counters.notRecovered += 1;
    if (result === "resync") this.resync(entry, "gap");
    else if (result !== null) this.tell(entry, result);
  }

  private onErrorFrame(frame: ErrorFrame): void {
    this.counters.errorFrames += 1;
    const message = `${frame.code}: ${frame.message}`;
    if (typeof frame.channel === "string") {
      const entry = this.channels.get(frame.channel);
      if (entry !== undefined && !entry.leaving) this.refuseChannel(entry, frame.code, message);
      return;
    }
    // Not about one channel: the answer to a whole op. A refused subscribe names its
    // channels; from an older gateway that names none, it is about every subscribe still
    // unanswered (the client sends ops in order and the gateway answers them in order).
    const named = Array.isArray(frame.channels) ? new Set(frame.channels) : null;
    const unanswered = [...this.channels.entries()]
      .filter(([name, e]) => e.state.phase === "subscribing" && (named?.has(name) ?? true))
      .map(([, e]) => e);
    if (frame.code === "rate_limited" || frame.code === "unavailable") {
      for (const entry of unanswered) entry.state.retryLater();
      if (unanswered.length > 0) this.retrySubscribesLater();
      this.report(
        new MarketPulseStreamError("server", `${message} (retrying)`, { code: frame.code }),
      );
    } else if (
      unanswered.length > 0 &&
      (frame.code === "too_many_channels" || frame.code === "bad_request")
    ) {
      for (const entry of unanswered) this.refuseChannel(entry, frame.code, message);
    } else {
      this.report(new MarketPulseStreamError("server", message, { code: frame.code }));
    }
  }

  /**
   * A frame of a channel not held: in flight since its unsubscribe, or the gateway still
   * holds it; then it is unsubscribed again, at most once per STRAY_GRACE_MS.
   */
  private stray(channel: string): void {
    this.counters.ignored += 1;
    const told = this.toldAt.get(channel);
    if (this.strays.has(channel) || (told !== undefined && this.now() - told < STRAY_GRACE_MS))
      return;
    this.counters.unsubscribesRepeated += 1;
    this.strays.add(channel);
    this.queueFlush();
  }

  private refuseChannel(entry: Entry, code: string, message: string): void {
    entry.state.fail();
    const error = new MarketPulseStreamError("channel", `${entry.state.name}: ${message}`, {
      code,
      channel: entry.state.name,
    });
    for (const subscriber of [...entry.subscribers]) {
      if (subscriber.onError === undefined) continue;
      try {
        subscriber.onError(error);
      } catch (thrown) {
        this.listenerFailed(thrown);
      }
    }
    this.report(error);
  }

  private resync(entry: Entry, reason: "gap" | "epoch"): void {
    this.counters.resyncs += 1;
    entry.state.requestResync(reason);
    this.queueFlush();
  }

  private retrySubscribesLater(): void {
    if (this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, this.retryBackoff.next());
  }

  private protocolError(what: string): void {
    this.report(new MarketPulseStreamError("protocol", `ignored ${what} from the gateway`));
  }

  // --- ops -------------------------------------------------------------------------------

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /** Send what the subscriptions need: unsubscribes of channels left, subscribes of pending ones. */
  private flush(): void {
    const open = this.socket !== null && this.opened;
    const leaving: string[] = [];
    const pending: Entry[] = [];
    for (const [name, entry] of this.channels) {
      if (entry.leaving) {
        this.channels.delete(name);
        if (entry.sent || entry.state.phase !== "pending") leaving.push(name);
      } else if (entry.state.phase === "pending") {
        pending.push(entry);
      }
    }
    if (!open) return;
    for (const name of this.strays) if (!this.channels.has(name)) leaving.push(name);
    this.strays.clear();
    const now = this.now();
    for (const name of leaving) this.toldAt.set(name, now);
    for (let i = 0; i < leaving.length; i += MAX_CHANNELS_PER_OP) {
      this.send({ op: "unsubscribe", channels: leaving.slice(i, i + MAX_CHANNELS_PER_OP) });
    }
    if (this.retryTimer !== null) return; // the gateway asked us to wait
    let channels: string[] = [];
    let resume: Record<string, Position> = {};
    let size = 0;
    const sendOp = (): void => {
      if (channels.length === 0) return;
      const hasResume = Object.keys(resume).length > 0;
      this.send(hasResume ? { op: "subscribe", channels, resume } : { op: "subscribe", channels });
      channels = [];
      resume = {};
      size = 0;
    };
    for (const entry of pending) {
      const name = entry.state.name;
      const position = entry.state.resumePosition();
      const cost = opCost(name, position);
      if (
        channels.length === MAX_CHANNELS_PER_OP ||
        (channels.length > 0 && size + cost > this.maxOpChars)
      ) {
        sendOp();
      }
      channels.push(name);
      if (position !== null) resume[name] = position;
      size += cost;
      entry.state.subscribeSent(position);
    }
    sendOp();
  }

  private send(op: object): void {
    try {
      this.socket?.send(JSON.stringify(op));
    } catch (error) {
      // The socket is closing; its close event brings the reconnection.
      this.report(
        new MarketPulseStreamError("server", `could not send: ${String(error)}`, { cause: error }),
      );
    }
  }

  // --- telling the app -------------------------------------------------------------------

  private tell(entry: Entry, change: Change): void {
    const value = entry.state.value;
    for (const subscriber of entry.subscribers) {
      try {
        subscriber.listener(value, change);
      } catch (error) {
        this.listenerFailed(error);
      }
    }
  }

  /** Tell one new listener the value the channel already has, once the caller has returned. */
  private tellLater(entry: Entry, subscriber: Subscriber, reason: "restored" | "current"): void {
    queueMicrotask(() => {
      if (!entry.subscribers.has(subscriber) || this.channels.get(entry.state.name) !== entry)
        return;
      const { state } = entry;
      const change: SnapshotChange = {
        type: "snapshot",
        channel: state.name,
        epoch: state.epoch,
        seq: state.seq,
        reason,
        wasRecovering: false,
      };
      try {
        subscriber.listener(state.value, change);
      } catch (error) {
        this.listenerFailed(error);
      }
    });
  }

  private listenerFailed(error: unknown): void {
    this.report(
      new MarketPulseStreamError("listener", `a listener threw: ${String(error)}`, {
        cause: error,
      }),
    );
  }

  private report(error: MarketPulseError): void {
    this.lastError = error.message;
    // An error listener that throws is reported too, but not to itself, endlessly.
    if (this.reporting) return;
    this.reporting = true;
    try {
      this.emitter.emit("error", error);
    } finally {
      this.reporting = false;
    }
  }

  /**
   * Enter `state` and tell the listeners. False when a listener stopped the client meanwhile
   * (`close()`, perhaps then `connect()`): the caller's step is void and must not go on to
   * open a socket or arm a timer for a connection that is no longer its own.
   */
  private setState(state: ConnectionState): boolean {
    const previous = this.current;
    if (previous === state) return true;
    const stops = this.stops;
    this.current = state;
    this.emitter.emit("state", state, previous);
    return this.stops === stops;
  }

  private listenForNetwork(): void {
    if (this.networkEvents === null || this.onlineListener !== null) return;
    this.onlineListener = () => this.onOnline();
    this.networkEvents.addEventListener("online", this.onlineListener);
  }

  private stopListeningForNetwork(): void {
    if (this.networkEvents === null || this.onlineListener === null) return;
    this.networkEvents.removeEventListener("online", this.onlineListener);
    this.onlineListener = null;
  }

  private clearTimer(
    name: "reconnectTimer" | "retryTimer" | "watchdogTimer" | "stableTimer",
  ): void {
    const timer = this[name];
    if (timer !== null) {
      clearTimeout(timer);
      this[name] = null;
    }
  }
}

function ignore(): void {
  // A detached socket's events mean nothing any more.
}

function checkChannelName(channel: string): void {
  if (typeof channel !== "string" || channel.length === 0 || channel.length > MAX_CHANNEL_NAME) {
    throw new MarketPulseConfigError(
      `not a channel name: ${JSON.stringify(channel)} (1–${MAX_CHANNEL_NAME} characters, e.g. "ticker:bitcoin")`,
    );
  }
}

/** A saved position the gateway would accept back (anything else is dropped, not sent). */
function usable(saved: SavedChannel | undefined): boolean {
  return (
    typeof saved === "object" &&
    saved !== null &&
    isSeq(saved.seq) &&
    typeof saved.epoch === "string" &&
    saved.epoch.length > 0 &&
    saved.epoch.length <= MAX_POSITION_TOKEN &&
    saved.seq.length <= MAX_POSITION_TOKEN &&
    "value" in saved
  );
}

/** Characters a channel adds to a subscribe op (name, and its resume entry). */
function opCost(name: string, position: Position | null): number {
  const quoted = name.length + 3;
  return position === null ? quoted : 2 * quoted + position.epoch.length + position.seq.length + 24;
}

function browserWindow(): NetworkEvents | null {
  const candidate = (globalThis as { window?: unknown }).window;
  if (typeof candidate !== "object" || candidate === null) return null;
  const target = candidate as Partial<NetworkEvents>;
  return typeof target.addEventListener === "function" &&
    typeof target.removeEventListener === "function"
    ? (candidate as NetworkEvents)
    : null;
}

/** The URL without its `api_key` query value, for messages. */
function redact(url: string): string {
  return url.replace(/([?&]api_key=)[^&]*/, "$1…");
}
