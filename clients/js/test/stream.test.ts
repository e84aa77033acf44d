import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Change } from "../src/channel.js";
import { MarketPulse, type MarketPulseOptions } from "../src/client.js";
import { MarketPulseConfigError, MarketPulseError, MarketPulseStreamError } from "../src/errors.js";
import type { ClientOp, DeltaFrame, SubscribeOp } from "../src/protocol.js";
import { type ConnectionState, STRAY_GRACE_MS } from "../src/stream.js";
import type { NetworkEvents } from "../src/transport.js";
import { type FakeSocket, fakeSockets, settle } from "./fake-websocket.js";

const TICKER = "ticker:bitcoin";
const INDICATORS = "indicators:bitcoin:1h";

let sockets: ReturnType<typeof fakeSockets>;
let clients: MarketPulse[];

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  sockets = fakeSockets();
  clients = [];
});

afterEach(() => {
  for (const client of clients) client.close();
  vi.useRealTimers();
});

function client(options: Partial<MarketPulseOptions> = {}): MarketPulse {
  const mp = new MarketPulse({
    url: "http://gateway.test:8000",
    WebSocket: sockets.WebSocket,
    probeOnHandshakeFailure: false,
    networkEvents: null,
    ...options,
  });
  clients.push(mp);
  return mp;
}

interface Recorded {
  value: unknown;
  change: Change;
}

function recorder(): { calls: Recorded[]; listener: (value: unknown, change: Change) => void } {
  const calls: Recorded[] = [];
  return { calls, listener: (value, change) => calls.push({ value, change }) };
}

function states(mp: MarketPulse): ConnectionState[] {
  const seen: ConnectionState[] = [];
  mp.on("state", (state) => seen.push(state));
  return seen;
}

function errors(mp: MarketPulse): MarketPulseError[] {
  const seen: MarketPulseError[] = [];
  mp.on("error", (error) => seen.push(error));
  return seen;
}

function delta(
  seq: string,
  prev: string | null,
  data: unknown,
  channel = TICKER,
  epoch = "e1",
): DeltaFrame {
  return { type: "delta", channel, epoch, seq, prev_seq: prev, data };
}

/** Answer a subscribe of `channel` with a snapshot of `data` at `seq`. */
function snapshot(
  socket: FakeSocket,
  channel: string,
  seq: string,
  data: unknown,
  epoch = "e1",
): void {
  socket.receive({ type: "subscribed", channel, epoch, recovered: false });
  socket.receive({ type: "snapshot", channel, epoch, seq, data });
}

/** A client live on `ticker:bitcoin` at 10-0, `{price: 1}`, and what its listener saw. */
async function liveTicker(options: Partial<MarketPulseOptions> = {}): Promise<{
  mp: MarketPulse;
  socket: FakeSocket;
  calls: Recorded[];
}> {
  const mp = client(options);
  const { calls, listener } = recorder();
  mp.subscribe(TICKER, listener);
  const socket = sockets.last();
  socket.open();
  await settle();
  socket.take();
  snapshot(socket, TICKER, "10-0", { price: 1 });
  return { mp, socket, calls };
}

function subscribes(ops: ClientOp[]): SubscribeOp[] {
  return ops.filter((op): op is SubscribeOp => op.op === "subscribe");
}

describe("subscriptions", () => {
  it("opens one connection and subscribes every channel of a tick in one op", async () => {
    const mp = client();
    mp.subscribe(TICKER, () => {});
    mp.subscribe(INDICATORS, () => {});
    expect(sockets.sockets).toHaveLength(1);
    expect(sockets.last().url).toBe("ws://gateway.test:8000/v1/stream");
    sockets.last().open();
    await settle();
    expect(sockets.last().take()).toEqual([{ op: "subscribe", channels: [TICKER, INDICATORS] }]);
  });

  it("puts the API key in the stream URL, where a browser can send it", () => {
    const mp = client({ apiKey: "mp_k1_s&cret" });
    mp.subscribe(TICKER, () => {});
    expect(sockets.last().url).toBe("ws://gateway.test:8000/v1/stream?api_key=mp_k1_s%26cret");
  });

  it("applies the snapshot and then each delta, telling listeners what changed", async () => {
    const { socket, calls } = await liveTicker();
    socket.receive(delta("11-0", "10-0", { price: 2, volume: 3 }));
    socket.receive(delta("12-0", "11-0", { volume: null }));
    expect(calls.map((c) => c.value)).toEqual([
      { price: 1 },
      { price: 2, volume: 3 },
      { price: 2 },
    ]);
    expect(calls[0]?.change).toMatchObject({ type: "snapshot", reason: "subscribe", seq: "10-0" });
    expect(calls[2]?.change).toMatchObject({
      type: "delta",
      seq: "12-0",
      prevSeq: "11-0",
      removed: ["volume"],
    });
  });

  it("shares one gateway subscription between listeners of a channel", async () => {
    const mp = client();
    const first = recorder();
    const second = recorder();
    const offFirst = mp.subscribe(TICKER, first.listener);
    mp.subscribe(TICKER, second.listener);
    const socket = sockets.last();
    socket.open();
    await settle();
    expect(socket.take()).toEqual([{ op: "subscribe", channels: [TICKER] }]);
    snapshot(socket, TICKER, "10-0", { price: 1 });
    offFirst();
    await settle();
    expect(socket.take()).toEqual([]); // a listener remains: still subscribed
    socket.receive(delta("11-0", "10-0", { price: 2 }));
    expect(first.calls).toHaveLength(1);
    expect(second.calls.map((c) => c.value)).toEqual([{ price: 1 }, { price: 2 }]);
  });

  it("unsubscribes when the last listener goes, and not when it comes back in the same tick", async () => {
    const { mp, socket } = await liveTicker();
    const off = mp.subscribe(INDICATORS, () => {});
    await settle();
    socket.take();
    off();
    const back = mp.subscribe(INDICATORS, () => {});
    await settle();
    expect(socket.take()).toEqual([]);
    back();
    await settle();
    expect(socket.take()).toEqual([{ op: "unsubscribe", channels: [INDICATORS] }]);
    expect(mp.diagnostics.channels).not.toHaveProperty(INDICATORS);
  });

  it("unsubscribes again a channel whose frames keep coming past the grace period", async () => {
    // The gateway refused the unsubscribe (rate_limited): it still holds the channel.
    const { mp, socket } = await liveTicker();
    const off = mp.subscribe(INDICATORS, () => {});
    await settle();
    socket.take();
    snapshot(socket, INDICATORS, "20-0", { rsi: 50 });
    off();
    await settle();
    expect(socket.take()).toEqual([{ op: "unsubscribe", channels: [INDICATORS] }]);
    socket.receive({ type: "error", code: "rate_limited", message: "too many messages" });
    vi.advanceTimersByTime(STRAY_GRACE_MS / 2);
    socket.receive(delta("21-0", "20-0", { rsi: 51 }, INDICATORS)); // may be in flight
    await settle();
    expect(socket.take()).toEqual([]);
    vi.advanceTimersByTime(STRAY_GRACE_MS);
    socket.receive(delta("22-0", "21-0", { rsi: 52 }, INDICATORS)); // still held there
    socket.receive(delta("23-0", "22-0", { rsi: 53 }, INDICATORS));
    await settle();
    expect(socket.take()).toEqual([{ op: "unsubscribe", channels: [INDICATORS] }]);
    socket.receive(delta("24-0", "23-0", { rsi: 54 }, INDICATORS));
    await settle();
    expect(socket.take()).toEqual([]); // once per grace period
    expect(mp.diagnostics.unsubscribesRepeated).toBe(1);
    expect(mp.diagnostics.channels).not.toHaveProperty(INDICATORS);
  });

  it("takes a resync the gateway pushes to a live channel: the value is replaced", async () => {
    // The gateway restarts a channel from a snapshot when its history broke.
    const { socket, calls } = await liveTicker();
    socket.receive(delta("11-0", "10-0", { price: 2, high: 3 }));
    socket.receive({ type: "subscribed", channel: TICKER, epoch: "e1", recovered: false });
    snapshot(socket, TICKER, "30-0", { price: 7 });
    socket.receive(delta("31-0", "30-0", { price: 8 }));
    await settle();
    expect(socket.take()).toEqual([]);
    expect(calls.map((c) => c.value)).toEqual([
      { price: 1 },
      { price: 2, high: 3 },
      { price: 7 },
      { price: 8 },
    ]);
  });

  it("unsubscribes a channel never asked for on this connection at its first frame", async () => {
    const { mp, socket } = await liveTicker();
    snapshot(socket, INDICATORS, "20-0", { rsi: 50 });
    await settle();
    expect(socket.take()).toEqual([{ op: "unsubscribe", channels: [INDICATORS] }]);
    expect(mp.diagnostics.unsubscribesRepeated).toBe(1);
  });

  it("tells a listener that joins late the value the channel already has", async () => {
    const { mp } = await liveTicker();
    const late = recorder();
    mp.subscribe(TICKER, late.listener);
    expect(late.calls).toHaveLength(0); // not before subscribe returned
    await settle();
    expect(late.calls).toEqual([
      {
        value: { price: 1 },
        change: {
          type: "snapshot",
          channel: TICKER,
          epoch: "e1",
          seq: "10-0",
          reason: "current",
          wasRecovering: false,
        },
      },
    ]);
  });

  it("counts a listener once per subscribe call, and its off function only once", async () => {
    const { mp, socket } = await liveTicker();
    const shared = recorder();
    const offA = mp.subscribe(TICKER, shared.listener);
    mp.subscribe(TICKER, shared.listener);
    await settle();
    shared.calls.length = 0;
    offA();
    offA();
    socket.receive(delta("11-0", "10-0", { price: 2 }));
    expect(shared.calls).toHaveLength(1);
    expect(mp.diagnostics.channels[TICKER]?.listeners).toBe(2);
  });

  it("refuses a channel name the gateway would refuse, before sending anything", () => {
    const mp = client();
    expect(() => mp.subscribe("", () => {})).toThrow(MarketPulseConfigError);
    expect(() => mp.subscribe(`ticker:${"x".repeat(100)}`, () => {})).toThrow(/1–96 characters/);
  });

  it("splits a large subscribe into ops the gateway accepts", async () => {
    const mp = client();
    const names = Array.from({ length: 150 }, (_, i) => `ticker:asset-${i}`);
    for (const name of names) mp.subscribe(name, () => {});
    sockets.last().open();
    await settle();
    const ops = subscribes(sockets.last().take());
    expect(ops.map((op) => op.channels.length)).toEqual([100, 50]);
    expect(ops.flatMap((op) => op.channels)).toEqual(names);
  });

  it("keeps every resume op under the size limit", async () => {
    const resumeFrom = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [
        `indicators:some-long-asset-name-${i}:1h`,
        { epoch: "e".repeat(40), seq: "1795534469721-12", value: { x: i } },
      ]),
    );
    const mp = client({ resumeFrom });
    for (const name of Object.keys(resumeFrom)) mp.subscribe(name, () => {});
    sockets.last().open();
    await settle();
    const ops = subscribes(sockets.last().take());
    expect(ops.length).toBeGreaterThan(1);
    for (const op of ops) expect(JSON.stringify(op).length).toBeLessThanOrEqual(8192);
    expect(ops.flatMap((op) => Object.keys(op.resume ?? {}))).toHaveLength(100);
  });
});

describe("gaps, epochs and repeats", () => {
  it("re-snapshots after a gap: subscribes again without resume and ignores the old stream", async () => {
    const { mp, socket, calls } = await liveTicker();
    socket.receive(delta("12-0", "11-0", { price: 3 }));
    await settle();
    expect(socket.take()).toEqual([{ op: "subscribe", channels: [TICKER] }]);
    socket.receive(delta("13-0", "12-0", { price: 4 })); // still the old subscription
    snapshot(socket, TICKER, "13-0", { price: 4 });
    expect(calls.map((c) => c.change.type)).toEqual(["snapshot", "snapshot"]);
    expect(calls[1]?.change).toMatchObject({ reason: "gap", seq: "13-0" });
    expect(mp.diagnostics).toMatchObject({ gaps: 1, resyncs: 1, ignored: 1, snapshotsApplied: 2 });
  });

  it("re-snapshots on a new epoch", async () => {
    const { mp, socket, calls } = await liveTicker();
    socket.receive(delta("1-0", null, { price: 50 }, TICKER, "e2"));
    await settle();
    expect(socket.take()).toEqual([{ op: "subscribe", channels: [TICKER] }]);
    snapshot(socket, TICKER, "1-0", { price: 50 }, "e2");
    expect(calls.at(-1)?.change).toMatchObject({ type: "snapshot", reason: "epoch", epoch: "e2" });
    expect(mp.diagnostics).toMatchObject({ epochChanges: 1, resyncs: 1 });
    expect(mp.positions()[TICKER]).toEqual({ epoch: "e2", seq: "1-0", value: { price: 50 } });
  });

  it("drops repeated and older deltas without telling anyone", async () => {
    const { mp, socket, calls } = await liveTicker();
    socket.receive(delta("11-0", "10-0", { price: 2 }));
    socket.receive(delta("11-0", "10-0", { price: 2 }));
    socket.receive(delta("10-0", "9-0", { price: 1 }));
    await settle();
    expect(calls).toHaveLength(2);
    expect(socket.take()).toEqual([]);
    expect(mp.diagnostics).toMatchObject({ duplicates: 2, gaps: 0, deltasApplied: 1 });
  });

  it("ignores frames of channels it does not hold, and frames it cannot read", async () => {
    const { mp, socket } = await liveTicker();
    const seen = errors(mp);
    socket.receive(delta("11-0", "10-0", { x: 1 }, "ticker:ethereum"));
    socket.receiveRaw("{not json");
    socket.receiveRaw(new Uint8Array([1, 2]));
    socket.receive({ type: "pong" });
    socket.receive({ type: "a-frame-from-the-future" });
    expect(mp.diagnostics.ignored).toBe(1);
    expect(seen.map((e) => (e as MarketPulseStreamError).kind)).toEqual(["protocol", "protocol"]);
    expect(mp.value(TICKER)).toEqual({ price: 1 });
  });
});

describe("reconnection and resume", () => {
  it("reconnects after a drop and resumes each channel from its position", async () => {
    const { mp, socket, calls } = await liveTicker();
    const seen = states(mp);
    socket.receive(delta("11-0", "10-0", { price: 2 }));
    socket.drop(1006);
    expect(mp.state).toBe("reconnecting");
    vi.advanceTimersByTime(1000); // the first delay is 0.5–1 s
    expect(sockets.sockets).toHaveLength(2);
    const next = sockets.last();
    next.open();
    await settle();
    expect(next.take()).toEqual([
      { op: "subscribe", channels: [TICKER], resume: { [TICKER]: { epoch: "e1", seq: "11-0" } } },
    ]);
    next.receive({ type: "subscribed", channel: TICKER, epoch: "e1", recovered: true });
    next.receive(delta("12-0", "11-0", { price: 3 }));
    expect(calls.map((c) => c.change.type)).toEqual(["snapshot", "delta", "recovered", "delta"]);
    expect(calls.at(-1)?.value).toEqual({ price: 3 });
    expect(seen).toEqual(["reconnecting", "live"]);
    expect(mp.diagnostics).toMatchObject({
      connects: 2,
      reconnects: 1,
      recovered: 1,
      lastCloseCode: 1006,
      closeCodes: { 1006: 1 },
    });
  });

  it("takes a fresh snapshot when the gateway cannot recover the missed updates", async () => {
    const { mp, socket, calls } = await liveTicker();
    socket.drop(1001);
    vi.advanceTimersByTime(1000);
    const next = sockets.last();
    next.open();
    await settle();
    next.take();
    snapshot(next, TICKER, "90-0", { price: 9 }, "e1");
    expect(calls.at(-1)?.change).toMatchObject({
      type: "snapshot",
      reason: "reconnect",
      wasRecovering: true,
    });
    expect(mp.diagnostics.notRecovered).toBe(1);
  });

  it("treats 4008 (too slow) as a reason to reconnect and resume", async () => {
    const { mp, socket } = await liveTicker();
    socket.drop(4008);
    vi.advanceTimersByTime(1000);
    sockets.last().open();
    await settle();
    expect(subscribes(sockets.last().take())[0]?.resume).toEqual({
      [TICKER]: { epoch: "e1", seq: "10-0" },
    });
    expect(mp.state).toBe("live");
  });

  it("stops with a typed error on 1008 instead of reconnecting forever", async () => {
    const { mp, socket } = await liveTicker();
    const seen = errors(mp);
    socket.drop(1008);
    expect(mp.state).toBe("closed");
    vi.advanceTimersByTime(120_000);
    expect(sockets.sockets).toHaveLength(1);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(MarketPulseStreamError);
    expect(seen[0]).toMatchObject({ kind: "policy", fatal: true, closeCode: 1008 });
    expect(mp.value(TICKER)).toEqual({ price: 1 }); // the last value stays readable
  });

  it("stops on 1009 too, and starts again on connect()", async () => {
    const { mp, socket } = await liveTicker();
    const seen = errors(mp);
    socket.drop(1009);
    expect(seen[0]).toMatchObject({ kind: "too_big", fatal: true });
    mp.connect();
    expect(mp.state).toBe("connecting");
    sockets.last().open();
    await settle();
    expect(subscribes(sockets.last().take())[0]?.resume).toEqual({
      [TICKER]: { epoch: "e1", seq: "10-0" },
    });
  });

  it("backs off between failed handshakes, within 0.5–20 s, and resets after a stable connection", async () => {
    const mp = client();
    vi.spyOn(Math, "random").mockReturnValue(1);
    mp.subscribe(TICKER, () => {});
    const delays: number[] = [];
    for (let attempt = 0; attempt < 8; attempt += 1) {
      const before = sockets.sockets.length;
      sockets.last().drop(1006); // never opened: a failed handshake
      let waited = 0;
      while (sockets.sockets.length === before) {
        vi.advanceTimersByTime(100);
        waited += 100;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([1000, 1500, 2500, 4500, 8500, 16500, 20000, 20000]);
    expect(mp.state).toBe("connecting"); // never opened yet
    sockets.last().open();
    vi.advanceTimersByTime(10_000); // stable
    sockets.last().drop(1006);
    vi.advanceTimersByTime(999);
    expect(sockets.sockets).toHaveLength(9);
    vi.advanceTimersByTime(1);
    expect(sockets.sockets).toHaveLength(10);
    expect(mp.diagnostics.handshakeFailures).toBe(8);
  });

  it("gives up on a handshake that is never answered and tries again", async () => {
    const mp = client({ openTimeoutMs: 5_000 });
    vi.spyOn(Math, "random").mockReturnValue(0);
    mp.subscribe(TICKER, () => {});
    expect(sockets.sockets).toHaveLength(1); // accepted, never upgraded: no open, no close
    vi.advanceTimersByTime(4_999);
    expect(sockets.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1 + 500); // given up, then the first backoff delay
    expect(sockets.sockets).toHaveLength(2);
    expect(mp.diagnostics.handshakeFailures).toBe(1);
    expect(mp.state).toBe("connecting");
    sockets.last().open();
    vi.advanceTimersByTime(5_000); // an open socket's watchdog is the heartbeat's
    expect(sockets.sockets).toHaveLength(2);
    expect(mp.state).toBe("live");
  });

  it("retries at once when the browser says it is online again", async () => {
    const target = new EventTarget();
    const network: NetworkEvents = {
      addEventListener: (type, listener) => target.addEventListener(type, listener),
      removeEventListener: (type, listener) => target.removeEventListener(type, listener),
    };
    // The retried socket is left connecting: no handshake timeout within the 30 s looked at.
    const { mp, socket } = await liveTicker({ networkEvents: network, openTimeoutMs: 60_000 });
    socket.drop(1006);
    expect(sockets.sockets).toHaveLength(1);
    target.dispatchEvent(new Event("online"));
    expect(sockets.sockets).toHaveLength(2);
    vi.advanceTimersByTime(30_000);
    expect(sockets.sockets).toHaveLength(2); // the backoff timer was cancelled
    mp.close();
    target.dispatchEvent(new Event("online"));
    expect(sockets.sockets).toHaveLength(2);
  });

  it("carries positions across instances: resumeFrom restores the value and resumes", async () => {
    const { mp, socket } = await liveTicker();
    socket.receive(delta("11-0", "10-0", { price: 2 }));
    const saved = JSON.parse(JSON.stringify(mp.positions())) as ReturnType<
      MarketPulse["positions"]
    >;
    mp.close();
    const again = client({ resumeFrom: saved });
    const { calls, listener } = recorder();
    again.subscribe(TICKER, listener);
    await settle();
    expect(calls[0]).toMatchObject({
      value: { price: 2 },
      change: { reason: "restored", seq: "11-0" },
    });
    const next = sockets.last();
    next.open();
    await settle();
    expect(next.take()).toEqual([
      { op: "subscribe", channels: [TICKER], resume: { [TICKER]: { epoch: "e1", seq: "11-0" } } },
    ]);
    next.receive({ type: "subscribed", channel: TICKER, epoch: "e1", recovered: true });
    next.receive(delta("12-0", "11-0", { price: 3 }));
    expect(again.value(TICKER)).toEqual({ price: 3 });
    expect(again.positions()).toEqual({
      [TICKER]: { epoch: "e1", seq: "12-0", value: { price: 3 } },
    });
  });

  it("ignores saved positions the gateway would refuse", async () => {
    const mp = client({
      resumeFrom: {
        [TICKER]: { epoch: "e1", seq: "not-a-seq", value: {} },
        [INDICATORS]: { epoch: "x".repeat(60), seq: "1-0", value: {} },
      },
    });
    mp.subscribe(TICKER, () => {});
    mp.subscribe(INDICATORS, () => {});
    sockets.last().open();
    await settle();
    expect(sockets.last().take()).toEqual([{ op: "subscribe", channels: [TICKER, INDICATORS] }]);
  });

  it("close() stops reconnecting and keeps values and positions", async () => {
    const { mp, socket } = await liveTicker();
    mp.close();
    expect(socket.closedByClient).not.toBeNull();
    expect(mp.state).toBe("closed");
    vi.advanceTimersByTime(60_000);
    expect(sockets.sockets).toHaveLength(1);
    expect(mp.positions()[TICKER]?.seq).toBe("10-0");
  });
});

describe("a state listener that closes the client", () => {
  /** Close the client from inside its `state` event the first time it reaches `state`. */
  function closeOn(mp: MarketPulse, state: ConnectionState, then?: () => void): void {
    let done = false;
    mp.on("state", (now) => {
      if (now !== state || done) return;
      done = true;
      mp.close();
      then?.();
    });
  }

  function expectStoppedFor(mp: MarketPulse, socketCount: number): void {
    expect(mp.state).toBe("closed");
    expect(vi.getTimerCount()).toBe(0); // nothing left to wake it, or to keep Node alive
    vi.advanceTimersByTime(120_000);
    expect(sockets.sockets).toHaveLength(socketCount);
    expect(mp.state).toBe("closed");
  }

  it("is obeyed while connecting: no socket is opened", () => {
    const mp = client();
    closeOn(mp, "connecting");
    mp.subscribe(TICKER, () => {});
    expectStoppedFor(mp, 0);
  });

  it("is obeyed as the connection opens: nothing is sent and no timer is left", async () => {
    const mp = client();
    closeOn(mp, "live");
    mp.subscribe(TICKER, () => {});
    sockets.last().open();
    await settle();
    expect(sockets.last().sent).toEqual([]);
    expect(sockets.last().closedByClient).not.toBeNull();
    expectStoppedFor(mp, 1);
  });

  it("is obeyed when a drop schedules a reconnect: none happens", async () => {
    const { mp, socket } = await liveTicker();
    closeOn(mp, "reconnecting");
    socket.drop(1006);
    expectStoppedFor(mp, 1);
  });

  it("is obeyed when the connection turns stale", async () => {
    const { mp, socket } = await liveTicker();
    closeOn(mp, "stale");
    vi.advanceTimersByTime(18_001);
    expect(socket.closedByClient).not.toBeNull();
    expectStoppedFor(mp, 1);
  });

  it("that connects again at once leaves exactly one connection", async () => {
    const { mp, socket } = await liveTicker();
    closeOn(mp, "reconnecting", () => mp.connect());
    socket.drop(1006);
    expect(sockets.sockets).toHaveLength(2);
    sockets.last().open();
    expect(mp.state).toBe("live");
    vi.advanceTimersByTime(10_000); // past any backoff, short of the heartbeat's deadline
    expect(sockets.sockets).toHaveLength(2);
    expect(sockets.last().closedByClient).toBeNull();
    expect(mp.state).toBe("live");
  });
});

describe("heartbeats", () => {
  it("turns stale after a late heartbeat and live again on the next frame", async () => {
    const { mp, socket } = await liveTicker();
    const seen = states(mp);
    vi.advanceTimersByTime(18_001);
    expect(mp.state).toBe("stale");
    socket.receive({ type: "heartbeat", ts: 1 });
    expect(mp.state).toBe("live");
    expect(seen).toEqual(["stale", "live"]);
  });

  it("stays live for minutes while heartbeats arrive every 15 s", async () => {
    const { mp, socket } = await liveTicker();
    for (let i = 0; i < 20; i += 1) {
      vi.advanceTimersByTime(15_000);
      socket.receive({ type: "heartbeat", ts: i });
      expect(mp.state).toBe("live");
    }
    expect(mp.diagnostics.heartbeats).toBe(20);
  });

  it("declares the connection dead after two missed heartbeats and replaces it", async () => {
    const { mp, socket } = await liveTicker();
    vi.advanceTimersByTime(29_999);
    expect(mp.state).toBe("stale");
    expect(sockets.sockets).toHaveLength(1);
    vi.advanceTimersByTime(2);
    expect(socket.closedByClient).not.toBeNull();
    expect(mp.state).toBe("reconnecting");
    expect(mp.diagnostics.deadConnections).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(sockets.sockets).toHaveLength(2);
    socket.receive(delta("11-0", "10-0", { price: 2 })); // the dead socket is not listened to
    expect(mp.value(TICKER)).toEqual({ price: 1 });
  });

  it("takes its heartbeat interval from the options", async () => {
    const { mp } = await liveTicker({ heartbeatMs: 1_000 });
    vi.advanceTimersByTime(2_001);
    expect(mp.diagnostics.deadConnections).toBe(1);
  });
});

describe("errors from the gateway", () => {
  it("tells the channel's listeners when the gateway does not know it, and goes on", async () => {
    const mp = client();
    const seen = errors(mp);
    const channelErrors: MarketPulseStreamError[] = [];
    mp.subscribe("ticker:nocoin", () => {}, { onError: (e) => channelErrors.push(e) });
    mp.subscribe(TICKER, () => {});
    const socket = sockets.last();
    socket.open();
    await settle();
    socket.receive({
      type: "error",
      code: "unknown_channel",
      message: "asset is not tracked",
      channel: "ticker:nocoin",
    });
    snapshot(socket, TICKER, "1-0", { price: 1 });
    expect(channelErrors).toHaveLength(1);
    expect(channelErrors[0]).toMatchObject({
      kind: "channel",
      code: "unknown_channel",
      channel: "ticker:nocoin",
      fatal: false,
    });
    expect(seen).toHaveLength(1);
    expect(mp.diagnostics.channels["ticker:nocoin"]?.phase).toBe("failed");
    expect(mp.value(TICKER)).toEqual({ price: 1 });
  });

  it("asks again for a refused channel on the next connection, not on this one", async () => {
    const mp = client();
    mp.subscribe("ticker:newcoin", () => {});
    const socket = sockets.last();
    socket.open();
    await settle();
    socket.take();
    socket.receive({
      type: "error",
      code: "unknown_channel",
      message: "asset is not tracked",
      channel: "ticker:newcoin",
    });
    vi.advanceTimersByTime(60_000);
    socket.receive({ type: "heartbeat", ts: 1 });
    await settle();
    expect(socket.take()).toEqual([]);
    socket.drop(1012); // the gateway restarts, maybe with MP_ASSETS changed
    vi.advanceTimersByTime(1_000);
    sockets.last().open();
    await settle();
    expect(sockets.last().take()).toEqual([{ op: "subscribe", channels: ["ticker:newcoin"] }]);
  });

  it("retries subscribes the gateway could not serve (Redis down, rate limited)", async () => {
    const mp = client();
    const seen = errors(mp);
    mp.subscribe(TICKER, () => {});
    const socket = sockets.last();
    socket.open();
    await settle();
    socket.take();
    socket.receive({ type: "error", code: "unavailable", message: "Redis did not answer" });
    await settle();
    expect(socket.take()).toEqual([]);
    vi.advanceTimersByTime(2_000);
    expect(socket.take()).toEqual([{ op: "subscribe", channels: [TICKER] }]);
    socket.receive({ type: "error", code: "rate_limited", message: "subscribing too fast" });
    vi.advanceTimersByTime(3_000);
    expect(socket.take()).toEqual([{ op: "subscribe", channels: [TICKER] }]);
    expect(seen.map((e) => (e as MarketPulseStreamError).code)).toEqual([
      "unavailable",
      "rate_limited",
    ]);
  });

  it("fails the unanswered channels on too_many_channels", async () => {
    const mp = client();
    const refused: string[] = [];
    mp.subscribe(TICKER, () => {}, { onError: (e) => refused.push(e.channel ?? "") });
    const socket = sockets.last();
    socket.open();
    await settle();
    socket.receive({ type: "error", code: "too_many_channels", message: "at most 100 channels" });
    expect(refused).toEqual([TICKER]);
  });

  it("fails only the channels a refused subscribe names, with another one in flight", async () => {
    const mp = client();
    const refused: string[] = [];
    const ticker = recorder();
    mp.subscribe(TICKER, ticker.listener, { onError: (e) => refused.push(e.channel ?? "") });
    const socket = sockets.last();
    socket.open();
    await settle();
    mp.subscribe(INDICATORS, () => {}, { onError: (e) => refused.push(e.channel ?? "") });
    await settle();
    expect(socket.take()).toEqual([
      { op: "subscribe", channels: [TICKER] },
      { op: "subscribe", channels: [INDICATORS] },
    ]);
    socket.receive({
      type: "error",
      code: "too_many_channels",
      message: "at most 100 channels",
      channels: [INDICATORS],
    });
    expect(refused).toEqual([INDICATORS]);
    snapshot(socket, TICKER, "1-0", { price: 1 });
    expect(ticker.calls).toHaveLength(1);
  });

  it("sends again only the channels a subscribe refused for now names", async () => {
    const mp = client();
    mp.subscribe(TICKER, () => {});
    const socket = sockets.last();
    socket.open();
    await settle();
    mp.subscribe(INDICATORS, () => {});
    await settle();
    socket.take();
    socket.receive({
      type: "error",
      code: "unavailable",
      message: "retry shortly",
      channels: [INDICATORS],
    });
    vi.advanceTimersByTime(5_000);
    expect(socket.take()).toEqual([{ op: "subscribe", channels: [INDICATORS] }]);
  });

  it("reports a listener that throws and still tells the others", async () => {
    const mp = client();
    const seen = errors(mp);
    const good = recorder();
    mp.subscribe(TICKER, () => {
      throw new Error("boom");
    });
    mp.subscribe(TICKER, good.listener);
    const socket = sockets.last();
    socket.open();
    await settle();
    snapshot(socket, TICKER, "1-0", { price: 1 });
    expect(good.calls).toHaveLength(1);
    expect(seen[0]).toMatchObject({ kind: "listener" });
  });

  it("survives an error listener that throws", async () => {
    const mp = client();
    mp.on("error", () => {
      throw new Error("the app's bug");
    });
    mp.subscribe(TICKER, () => {
      throw new Error("boom");
    });
    const socket = sockets.last();
    socket.open();
    await settle();
    expect(() => snapshot(socket, TICKER, "1-0", { price: 1 })).not.toThrow();
    expect(mp.diagnostics.lastError).toMatch(/a listener threw/);
  });
});

describe("handshake probe", () => {
  it("stops with an auth error when REST says the key is refused", async () => {
    const fetch = vi.fn(async () => ({
      status: 401,
      headers: new Headers({ "content-type": "application/problem+json" }),
      text: async () =>
        JSON.stringify({
          type: "urn:marketpulse:problem:invalid-api-key",
          title: "Invalid API key",
          status: 401,
          detail: "The API key is unknown or revoked.",
        }),
    }));
    const mp = client({ probeOnHandshakeFailure: true, fetch, apiKey: "mp_bad" });
    const seen = errors(mp);
    mp.subscribe(TICKER, () => {});
    sockets.last().drop(1006);
    await settle(50);
    expect(mp.state).toBe("closed");
    expect(seen[0]).toMatchObject({ kind: "auth", fatal: true });
    expect((seen[0] as MarketPulseStreamError).message).toMatch(/Invalid API key/);
    expect(fetch).toHaveBeenCalledWith(
      "http://gateway.test:8000/v1/assets",
      expect.objectContaining({ headers: expect.objectContaining({ "x-api-key": "mp_bad" }) }),
    );
    vi.advanceTimersByTime(60_000);
    expect(sockets.sockets).toHaveLength(1);
  });

  it("waits at least Retry-After when REST says the client is rate limited", async () => {
    const fetch = vi.fn(async () => ({
      status: 429,
      headers: new Headers({ "retry-after": "7" }),
      text: async () => "{}",
    }));
    const mp = client({ probeOnHandshakeFailure: true, fetch });
    mp.subscribe(TICKER, () => {});
    sockets.last().drop(1006);
    await settle(50);
    expect(mp.diagnostics.reconnects).toBe(1);
    vi.advanceTimersByTime(6_999);
    expect(sockets.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets.sockets).toHaveLength(2);
  });

  it("retries as usual when REST answers or cannot be reached", async () => {
    const fetch = vi.fn(async () => {
      throw new TypeError("fetch failed");
    });
    const mp = client({ probeOnHandshakeFailure: true, fetch });
    mp.subscribe(TICKER, () => {});
    sockets.last().drop(1006);
    await settle(50);
    expect(mp.diagnostics.reconnects).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(sockets.sockets).toHaveLength(2);
    expect(mp.state).toBe("connecting");
  });
});

describe("runtime", () => {
  it("names the WebSocket option when the runtime has none", () => {
    vi.stubGlobal("WebSocket", undefined); // as in Node 20
    try {
      const mp = new MarketPulse({ url: "http://127.0.0.1:8000", networkEvents: null });
      expect(() => mp.subscribe(TICKER, () => {})).toThrow(MarketPulseConfigError);
      expect(() => mp.subscribe(TICKER, () => {})).toThrow(/`WebSocket` option/);
      expect(mp.state).toBe("idle");
      expect(mp.diagnostics.channels).toEqual({});
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("uses globalThis.WebSocket when there is one", async () => {
    vi.stubGlobal("WebSocket", sockets.WebSocket);
    try {
      const mp = new MarketPulse({ url: "https://gw.example/", networkEvents: null });
      clients.push(mp);
      mp.subscribe(TICKER, () => {});
      expect(sockets.last().url).toBe("wss://gw.example/v1/stream");
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("reports its state changes in order", async () => {
    const mp = client();
    const seen = states(mp);
    mp.subscribe(TICKER, () => {});
    sockets.last().open();
    mp.close();
    expect(seen).toEqual(["connecting", "live", "closed"]);
  });
});
