/**
 * A model of the gateway's stream, for property tests: channels with an epoch, a history of
 * full values and a current value; subscribe answered with a snapshot, or with the missed
 * deltas when a resume position is still in the history (resume.py's rules); deltas carrying
 * the changed top-level fields, a removed field as null (delta.py's rules).
 *
 * The test can also make it misbehave the ways a network and Redis can: lose a frame (a
 * gap), send one again (a duplicate), lose the history (a new epoch), trim the history, and
 * drop the connection.
 */

import type { ClientOp, Position, ServerFrame } from "../src/protocol.js";
import type { CloseEventLike, MessageEventLike, WebSocketLike } from "../src/transport.js";

type Value = Record<string, unknown>;

interface Entry {
  readonly seq: string;
  readonly prev: string | null;
  readonly value: Value;
}

interface ModelChannel {
  /** Milliseconds of this channel's stream ids (Redis ids are per stream). */
  clock: number;
  epoch: string;
  entries: Entry[];
  value: Value | null;
  seq: string | null;
}

type Handler<E> = ((event: E) => void) | null;

class ModelSocket implements WebSocketLike {
  onopen: Handler<unknown> = null;
  onmessage: Handler<MessageEventLike> = null;
  onclose: Handler<CloseEventLike> = null;
  onerror: Handler<unknown> = null;
  readonly inbox: ClientOp[] = [];
  readonly subscriptions = new Set<string>();
  isOpen = false;
  gone = false;

  send(data: string): void {
    if (!this.gone) this.inbox.push(JSON.parse(data) as ClientOp);
  }

  close(): void {
    this.gone = true;
  }

  deliver(frame: ServerFrame): void {
    if (this.isOpen && !this.gone) this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

export class ModelGateway {
  readonly sockets: ModelSocket[] = [];
  private readonly channels = new Map<string, ModelChannel>();
  private epochs = 0;
  /** The last delta frame delivered per channel, for duplicates. */
  private readonly lastDelta = new Map<string, ServerFrame>();
  readonly WebSocket: new (url: string) => WebSocketLike;

  constructor(names: readonly string[]) {
    for (const name of names) {
      this.channels.set(name, {
        clock: 1_700_000_000_000,
        epoch: this.newEpoch(),
        entries: [],
        value: null,
        seq: null,
      });
    }
    const sockets = this.sockets;
    this.WebSocket = class extends ModelSocket {
      constructor() {
        super();
        sockets.push(this);
      }
    };
  }

  /** The server's current value of a channel, as a client should hold it. */
  value(name: string): Value | undefined {
    const value = this.channel(name).value;
    if (value === null) return undefined;
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null));
  }

  seq(name: string): string | null {
    return this.channel(name).seq;
  }

  /** A new value on `name`; `deliver: false` loses its frame on the way (a gap). */
  publish(name: string, value: Value, deliver = true): void {
    const channel = this.channel(name);
    channel.clock += 1;
    const seq = `${channel.clock}-0`;
    const before = channel.value;
    const prev = channel.entries.length > 0 ? channel.seq : null;
    channel.entries.push({ seq, prev, value });
    channel.value = value;
    channel.seq = seq;
    const frame: ServerFrame = {
      type: "delta",
      channel: name,
      epoch: channel.epoch,
      seq,
      prev_seq: prev,
      data: prev === null ? value : changedFields(before, value),
    };
    if (!deliver) return;
    this.lastDelta.set(name, frame);
    for (const socket of this.live(name)) socket.deliver(frame);
  }

  /** Send the last delta of `name` again. */
  duplicate(name: string): void {
    const frame = this.lastDelta.get(name);
    if (frame === undefined) return;
    for (const socket of this.live(name)) socket.deliver(frame);
  }

  /**
   * Redis lost the channel: a new epoch, no history and no value until the next publish.
   * `rewind`: the new stream's ids start below the old ones (a clock that stepped back).
   */
  loseHistory(name: string, rewind = false): void {
    const channel = this.channel(name);
    if (rewind) channel.clock -= 1_000;
    channel.epoch = this.newEpoch();
    channel.entries = [];
    channel.value = null;
    channel.seq = null;
  }

  /** Keep only the newest `keep` history entries (a resume from before them fails). */
  trim(name: string, keep: number): void {
    const channel = this.channel(name);
    channel.entries = channel.entries.slice(-Math.max(1, keep));
  }

  /** The open connection goes away with `code`. */
  dropConnection(code: number): void {
    for (const socket of this.sockets) {
      if (socket.isOpen && !socket.gone) {
        socket.gone = true;
        socket.onclose?.({ code, reason: "" });
      }
    }
  }

  /** Accept new connections and answer every op the client sent, until there is none. */
  async settle(): Promise<void> {
    for (let round = 0; round < 50; round += 1) {
      for (let i = 0; i < 5; i += 1) await Promise.resolve();
      let busy = false;
      for (const socket of this.sockets) {
        if (socket.gone) continue;
        if (!socket.isOpen) {
          socket.isOpen = true;
          socket.onopen?.({});
          busy = true;
        }
        for (const op of socket.inbox.splice(0)) {
          busy = true;
          this.answer(socket, op);
        }
      }
      if (!busy) return;
    }
    throw new Error("the client kept sending ops");
  }

  private answer(socket: ModelSocket, op: ClientOp): void {
    if (op.op === "unsubscribe") {
      for (const name of op.channels) socket.subscriptions.delete(name);
      return;
    }
    if (op.op !== "subscribe") return;
    for (const name of op.channels) {
      socket.subscriptions.add(name);
      const position = op.resume?.[name];
      const replay = position === undefined ? null : this.replay(name, position);
      const channel = this.channel(name);
      if (replay !== null) {
        socket.deliver({
          type: "subscribed",
          channel: name,
          epoch: channel.epoch,
          recovered: true,
        });
        for (const frame of replay) socket.deliver(frame);
        continue;
      }
      const empty = channel.value === null;
      socket.deliver({
        type: "subscribed",
        channel: name,
        epoch: empty ? null : channel.epoch,
        recovered: false,
      });
      socket.deliver({
        type: "snapshot",
        channel: name,
        epoch: empty ? null : channel.epoch,
        seq: channel.seq,
        data: channel.value,
      });
    }
  }

  /** resume.py's plan: the missed deltas when the chain from `position` is whole, else null. */
  private replay(name: string, position: Position): ServerFrame[] | null {
    const channel = this.channel(name);
    if (position.epoch !== channel.epoch) return null;
    // The entry at the client's seq must still be there: its value is what the first delta
    // is diffed against (a full value alone cannot remove the fields the client holds).
    const at = channel.entries.findIndex((e) => e.seq === position.seq);
    if (at < 0) return null;
    let before: Value | null = channel.entries[at]?.value ?? null;
    const missed = channel.entries.slice(at + 1);
    const frames: ServerFrame[] = [];
    let prev = position.seq;
    for (const entry of missed) {
      frames.push({
        type: "delta",
        channel: name,
        epoch: channel.epoch,
        seq: entry.seq,
        prev_seq: prev,
        data: changedFields(before, entry.value),
      });
      prev = entry.seq;
      before = entry.value;
    }
    return frames;
  }

  private live(name: string): ModelSocket[] {
    return this.sockets.filter((s) => s.isOpen && !s.gone && s.subscriptions.has(name));
  }

  private channel(name: string): ModelChannel {
    const channel = this.channels.get(name);
    if (channel === undefined) throw new Error(`no channel ${name}`);
    return channel;
  }

  private newEpoch(): string {
    this.epochs += 1;
    return `epoch${this.epochs}`;
  }
}

/** delta.py's `changed_fields`: what turns `before` into `after` with a shallow merge. */
export function changedFields(before: Value | null, after: Value): Value {
  if (before === null) return after;
  const delta: Value = {};
  for (const [key, value] of Object.entries(after)) {
    if (!(key in before) || JSON.stringify(before[key]) !== JSON.stringify(value))
      delta[key] = value;
  }
  for (const key of Object.keys(before)) {
    if (!(key in after)) delta[key] = null;
  }
  return delta;
}
