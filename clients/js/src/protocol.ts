/**
 * The `/v1/stream` WebSocket protocol (DESIGN §7): every frame the client sends and receives.
 *
 * These types mirror the gateway's pydantic models field for field
 * (services/gateway/src/marketpulse_gateway/protocol.py and errors.py). They are written by
 * hand until the gateway serves its AsyncAPI document; from then on this module is generated
 * from that document, the way `generated/openapi.ts` is from the OpenAPI one, and keeps these
 * names so nothing that imports it changes.
 *
 * Positions are Redis stream entry ids `<ms>-<n>` (see seq.ts); `epoch` changes when the
 * channel's history was lost.
 */

/** Where a client stopped reading a channel: the `{epoch, seq}` of the last frame it applied. */
export interface Position {
  readonly epoch: string;
  readonly seq: string;
}

// --- client → server ---------------------------------------------------------------------

export interface SubscribeOp {
  readonly op: "subscribe";
  /** 1–100 channel names per op. */
  readonly channels: readonly string[];
  /** Channels to resume from a position; the others get a fresh snapshot. */
  readonly resume?: Readonly<Record<string, Position>> | null;
}

export interface UnsubscribeOp {
  readonly op: "unsubscribe";
  readonly channels: readonly string[];
}

export interface PingOp {
  readonly op: "ping";
}

export type ClientOp = SubscribeOp | UnsubscribeOp | PingOp;

// --- server → client ---------------------------------------------------------------------

/**
 * The answer to subscribing one channel. `recovered: true`: the resume position was still in
 * the channel's history and the missed updates follow as deltas from it, with no snapshot.
 * `recovered: false`: a snapshot follows.
 */
export interface SubscribedFrame {
  readonly type: "subscribed";
  readonly channel: string;
  readonly epoch: string | null;
  readonly recovered: boolean;
}

/** The cached state of a channel; `epoch`, `seq` and `data` are null before it has a value. */
export interface SnapshotFrame {
  readonly type: "snapshot";
  readonly channel: string;
  readonly epoch: string | null;
  readonly seq: string | null;
  readonly data: unknown;
}

/**
 * One update: the top-level fields that changed (a field that disappeared is sent as null),
 * applied with a shallow merge. `prev_seq` is the seq it follows (null for a channel's first).
 */
export interface DeltaFrame {
  readonly type: "delta";
  readonly channel: string;
  readonly epoch: string;
  readonly seq: string;
  readonly prev_seq: string | null;
  readonly data: unknown;
}

/** Sent to every connection every 15 s (server time, epoch seconds). */
export interface HeartbeatFrame {
  readonly type: "heartbeat";
  readonly ts: number;
}

export interface PongFrame {
  readonly type: "pong";
}

/** The `code` of an error frame; the gateway only ever adds codes. */
export type ErrorCode =
  | "bad_request"
  | "unknown_op"
  | "unknown_channel"
  | "unavailable"
  | "rate_limited"
  | "too_many_channels";

/** A message the server could not act on; the connection stays open. */
export interface ErrorFrame {
  readonly type: "error";
  readonly code: ErrorCode;
  readonly message: string;
  /** The channel the error is about, when it is about one (unknown_channel). */
  readonly channel: string | null;
}

export type ServerFrame =
  SubscribedFrame | SnapshotFrame | DeltaFrame | HeartbeatFrame | PongFrame | ErrorFrame;

// --- close codes -------------------------------------------------------------------------

/** Close codes the gateway uses (protocol.py, runtime.py). */
export const CloseCode = {
  NORMAL: 1000,
  /** The gateway is shutting down (it closes every client with this on the way out). */
  GOING_AWAY: 1001,
  /** Closed without a close frame: the network, a crash, or a handshake that was refused. */
  ABNORMAL: 1006,
  /** Policy: the client kept breaking the connection's limits. */
  POLICY: 1008,
  /** A client message was larger than the gateway accepts (16 KiB by default). */
  TOO_BIG: 1009,
  /** Service restart. */
  SERVICE_RESTART: 1012,
  /** The client fell more than its queue allows behind the stream ("slow"). */
  SLOW: 4008,
} as const;

// --- limits ------------------------------------------------------------------------------

/** The gateway refuses a subscribe naming more channels than this in one op. */
export const MAX_CHANNELS_PER_OP = 100;

/** Server heartbeat interval (DESIGN §7). */
export const HEARTBEAT_INTERVAL_MS = 15_000;

/** The default largest client message the gateway accepts (MP_WS_MAX_MESSAGE_BYTES). */
export const MAX_CLIENT_MESSAGE_BYTES = 16_384;
