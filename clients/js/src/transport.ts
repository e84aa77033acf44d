/**
 * The little the client needs from a WebSocket and from fetch, as structural types: the
 * browser's WebSocket, the `ws` package's and undici's all fit, and the published type
 * declarations do not depend on the DOM library.
 */

// A handler property whose event type is checked both ways (the method-bivariance idiom),
// so implementations with richer event types (ws's, the DOM's) are accepted.
type Handler<E> = { bivarianceHack(event: E): void }["bivarianceHack"] | null;

export interface MessageEventLike {
  readonly data: unknown;
}

export interface CloseEventLike {
  readonly code: number;
  readonly reason?: string;
}

export interface WebSocketLike {
  onopen: Handler<unknown>;
  onmessage: Handler<MessageEventLike>;
  onclose: Handler<CloseEventLike>;
  onerror: Handler<unknown>;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws`: drop the connection at once, without waiting for the closing handshake. */
  terminate?(): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  signal: AbortSignal;
}

export interface FetchResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponse>;

/** Something to listen on for the browser's `online` event (`window`). */
export interface NetworkEvents {
  addEventListener(type: "online", listener: () => void): void;
  removeEventListener(type: "online", listener: () => void): void;
}
