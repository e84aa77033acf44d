/**
 * The `/v1/stream` WebSocket protocol (DESIGN §7): every frame the client sends and receives.
 *
 * The frame types are those of the gateway's AsyncAPI document (`/asyncapi.json`), generated
 * into `generated/asyncapi.ts` from the same pydantic models the gateway parses and encodes
 * (stream/protocol.py); this module gives them the client's names, read-only.
 *
 * Positions are Redis stream entry ids `<ms>-<n>` (see seq.ts); `epoch` changes when the
 * channel's history was lost.
 */

import type * as Wire from "./generated/asyncapi.js";

/** Where a client stopped reading a channel: the `{epoch, seq}` of the last frame it applied. */
export type Position = Readonly<Wire.Position>;

// --- client → server ---------------------------------------------------------------------

/** Subscribe to 1–100 channels; `resume` names the ones to resume from a position. */
export type SubscribeOp = Readonly<Omit<Wire.Subscribe, "channels" | "resume">> & {
  readonly channels: readonly string[];
  readonly resume?: Readonly<Record<string, Position>> | null;
};

export type UnsubscribeOp = Readonly<Omit<Wire.Unsubscribe, "channels">> & {
  readonly channels: readonly string[];
};

export type PingOp = Readonly<Wire.Ping>;

export type ClientOp = SubscribeOp | UnsubscribeOp | PingOp;

// --- server → client ---------------------------------------------------------------------

/**
 * The answer to subscribing one channel. `recovered: true`: the resume position was still in
 * the channel's history and the missed updates follow as deltas from it, with no snapshot.
 * `recovered: false`: a snapshot follows.
 */
export type SubscribedFrame = Readonly<Wire.Subscribed>;

/** The cached state of a channel; `epoch`, `seq` and `data` are null before it has a value. */
export type SnapshotFrame = Readonly<Wire.SnapshotFrame>;

/**
 * One update: the top-level fields that changed (a field that disappeared is sent as null),
 * applied with a shallow merge. `prev_seq` is the seq it follows (null for a channel's first).
 */
export type DeltaFrame = Readonly<Wire.Delta>;

/** Sent to every connection every 15 s (server time, epoch seconds). */
export type HeartbeatFrame = Readonly<Wire.Heartbeat>;

export type PongFrame = Readonly<Wire.Pong>;

/** The `code` of an error frame; the gateway only ever adds codes. */
export type ErrorCode = Wire.ErrorFrame["code"];

/**
 * A message the server could not act on; the connection stays open. `channel` is the
 * channel the error is about, when it is about one (unknown_channel).
 */
export type ErrorFrame = Readonly<Wire.ErrorFrame>;

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
