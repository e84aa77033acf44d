/**
 * A WebSocket double for unit tests: the test plays the gateway, opening, sending frames
 * and closing by hand, and reads what the client sent.
 */

import type { ClientOp, ServerFrame } from "../src/protocol.js";
import type { CloseEventLike, MessageEventLike, WebSocketLike } from "../src/transport.js";

type Handler<E> = ((event: E) => void) | null;

export class FakeSocket implements WebSocketLike {
  onopen: Handler<unknown> = null;
  onmessage: Handler<MessageEventLike> = null;
  onclose: Handler<CloseEventLike> = null;
  onerror: Handler<unknown> = null;
  /** Every op the client sent, parsed. */
  readonly sent: ClientOp[] = [];
  /** Set when the client closed or terminated this socket. */
  closedByClient: { code?: number | undefined; reason?: string | undefined } | null = null;
  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as ClientOp);
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
  }

  terminate(): void {
    this.closedByClient = { code: 1006, reason: "terminated" };
  }

  // --- the gateway's side --------------------------------------------------------------

  open(): void {
    this.onopen?.({});
  }

  receive(frame: ServerFrame | Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  receiveRaw(data: unknown): void {
    this.onmessage?.({ data });
  }

  /** The server closes the connection (or the network does: 1006). */
  drop(code = 1006): void {
    this.onclose?.({ code, reason: "" });
  }

  /** Ops sent since the last call, removed from the list. */
  take(): ClientOp[] {
    return this.sent.splice(0);
  }
}

/** A WebSocket class whose instances the test can reach. */
export function fakeSockets(): {
  WebSocket: new (url: string) => FakeSocket;
  sockets: FakeSocket[];
  last(): FakeSocket;
} {
  const sockets: FakeSocket[] = [];
  class Socket extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return {
    WebSocket: Socket,
    sockets,
    last() {
      const socket = sockets.at(-1);
      if (socket === undefined) throw new Error("no socket was opened");
      return socket;
    },
  };
}

/** Let queued microtasks (the client's batched flushes and late listener calls) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i += 1) await Promise.resolve();
}
