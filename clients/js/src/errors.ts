/**
 * Every error the client raises or reports is a `MarketPulseError`, so an app can tell them
 * from its own with one `instanceof`; the subclasses carry what a caller acts on.
 */

export class MarketPulseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The runtime lacks something the client needs (a WebSocket, fetch), or an option is wrong. */
export class MarketPulseConfigError extends MarketPulseError {}

/** RFC 9457 problem details as the gateway sends them (`application/problem+json`). */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly [extension: string]: unknown;
}

/**
 * The gateway answered a REST request with an error status. `type`, `title` and `detail` come
 * from its problem+json body (or are made up from the status when the body is not one);
 * `retryAfter` is the Retry-After header in seconds (429, 503), null without one.
 */
export class MarketPulseHttpError extends MarketPulseError {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly retryAfter: number | null;
  readonly url: string;
  /** The whole problem body, extension members (such as `errors`) included; null when none. */
  readonly problem: Problem | null;

  constructor(init: {
    status: number;
    type: string;
    title: string;
    detail: string;
    retryAfter: number | null;
    url: string;
    problem: Problem | null;
  }) {
    super(`${init.status} ${init.title}: ${init.detail}`);
    this.status = init.status;
    this.type = init.type;
    this.title = init.title;
    this.detail = init.detail;
    this.retryAfter = init.retryAfter;
    this.url = init.url;
    this.problem = init.problem;
  }
}

/** A REST request got no complete answer within its timeout. */
export class MarketPulseTimeoutError extends MarketPulseError {
  readonly timeoutMs: number;
  readonly url: string;

  constructor(url: string, timeoutMs: number) {
    super(`no answer from ${url} within ${timeoutMs} ms`);
    this.url = url;
    this.timeoutMs = timeoutMs;
  }
}

/** A REST request failed before any HTTP answer (DNS, refused connection, CORS, …). */
export class MarketPulseNetworkError extends MarketPulseError {
  readonly url: string;

  constructor(url: string, cause: unknown) {
    super(`request to ${url} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.url = url;
  }
}

/**
 * The gateway answered a REST request with a success status but a body that is not JSON: cut
 * short (a proxy or the gateway stopped mid-body), or a page from something in between. Like a
 * 5xx, worth retrying; `cause` is the parser's error.
 */
export class MarketPulseResponseError extends MarketPulseError {
  readonly status: number;
  readonly url: string;

  constructor(url: string, status: number, cause: unknown) {
    super(`${status} from ${url} with a body that is not JSON`, { cause });
    this.url = url;
    this.status = status;
  }
}

/**
 * What went wrong on the stream:
 * - `auth`: the gateway refused the connection's API key (fatal: the client stops);
 * - `policy`: closed with 1008, the client kept breaking the connection's limits (fatal);
 * - `too_big`: closed with 1009, a message was over the gateway's size limit (fatal);
 * - `channel`: one channel was refused (`unknown_channel`, `too_many_channels`); the others go on;
 * - `server`: an `error` frame the client could not attribute to a channel, or retried;
 * - `listener`: a listener of the app threw (the client catches it and goes on);
 * - `protocol`: a frame that is not the gateway's (the client ignores it).
 */
export type StreamErrorKind =
  "auth" | "policy" | "too_big" | "channel" | "server" | "listener" | "protocol";

export class MarketPulseStreamError extends MarketPulseError {
  readonly kind: StreamErrorKind;
  /** Whether the client stopped because of it (state `closed`); `connect()` starts again. */
  readonly fatal: boolean;
  /** The close code, for errors that came with one. */
  readonly closeCode: number | null;
  /** The `code` of the gateway's error frame, for errors that came as one. */
  readonly code: string | null;
  readonly channel: string | null;

  constructor(
    kind: StreamErrorKind,
    message: string,
    init: {
      fatal?: boolean;
      closeCode?: number | null;
      code?: string | null;
      channel?: string | null;
      cause?: unknown;
    } = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = kind;
    this.fatal = init.fatal ?? false;
    this.closeCode = init.closeCode ?? null;
    this.code = init.code ?? null;
    this.channel = init.channel ?? null;
  }
}
