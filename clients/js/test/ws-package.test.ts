/**
 * The client over a real socket, with the `ws` package as Node 20's WebSocket: a tiny
 * `ws` server plays the gateway. The real gateway is exercised by
 * tests/system/test_client_js.py; this checks the fit with `ws` itself (text frames as
 * strings, close codes, terminate) in milliseconds.
 */

import { createServer, type Server, type Socket } from "node:net";

import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";

import { MarketPulse } from "../src/client.js";
import type { ClientOp, ServerFrame } from "../src/protocol.js";
import type { WebSocketConstructor } from "../src/transport.js";

const TICKER = "ticker:bitcoin";

let server: WebSocketServer | undefined;
let mp: MarketPulse | undefined;

afterEach(async () => {
  mp?.close();
  await new Promise<void>((resolve) =>
    server === undefined ? resolve() : server.close(() => resolve()),
  );
  server = undefined;
});

async function listen(): Promise<{ server: WebSocketServer; url: string }> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const address = wss.address();
  if (address === null || typeof address === "string") throw new Error("expected a TCP address");
  server = wss;
  return { server: wss, url: `http://127.0.0.1:${address.port}` };
}

function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

describe("with the ws package", () => {
  it("accepts ws's WebSocket class as the WebSocket option", () => {
    expectTypeOf(WebSocket).toMatchTypeOf<WebSocketConstructor>();
  });

  it("applies frames, reconnects after 4008 and resumes from its position", async () => {
    const { server: wss, url } = await listen();
    const ops: ClientOp[][] = [];
    let connection = 0;
    wss.on("connection", (socket) => {
      const received: ClientOp[] = [];
      ops.push(received);
      connection += 1;
      const first = connection === 1;
      const send = (frame: ServerFrame): void => socket.send(JSON.stringify(frame));
      socket.on("message", (data) => {
        received.push(JSON.parse(String(data)) as ClientOp);
        if (first) {
          send({ type: "subscribed", channel: TICKER, epoch: "e1", recovered: false });
          send({ type: "snapshot", channel: TICKER, epoch: "e1", seq: "10-0", data: { price: 1 } });
          send({
            type: "delta",
            channel: TICKER,
            epoch: "e1",
            seq: "11-0",
            prev_seq: "10-0",
            data: { price: 2 },
          });
          socket.close(4008);
        } else {
          send({ type: "subscribed", channel: TICKER, epoch: "e1", recovered: true });
          send({
            type: "delta",
            channel: TICKER,
            epoch: "e1",
            seq: "12-0",
            prev_seq: "11-0",
            data: { price: 3 },
          });
        }
      });
    });
    mp = new MarketPulse({
      url,
      WebSocket,
      backoff: { minMs: 10, maxMs: 50 },
      networkEvents: null,
    });
    const seen: unknown[] = [];
    mp.subscribe(TICKER, (value, change) => seen.push([change.type, value?.price]));
    await waitFor(() => seen.length === 4, "four changes");
    expect(seen).toEqual([
      ["snapshot", 1],
      ["delta", 2],
      ["recovered", 2],
      ["delta", 3],
    ]);
    expect(ops[1]).toEqual([
      { op: "subscribe", channels: [TICKER], resume: { [TICKER]: { epoch: "e1", seq: "11-0" } } },
    ]);
    expect(mp.diagnostics).toMatchObject({
      connects: 2,
      lastCloseCode: 4008,
      closeCodes: { 4008: 1 },
      recovered: 1,
      gaps: 0,
    });
  });

  it("drops a silent connection at once and connects again", async () => {
    const { server: wss, url } = await listen();
    let connections = 0;
    wss.on("connection", () => {
      connections += 1; // and never a frame: no heartbeat
    });
    mp = new MarketPulse({
      url,
      WebSocket,
      heartbeatMs: 100,
      backoff: { minMs: 10, maxMs: 20 },
      networkEvents: null,
    });
    mp.subscribe(TICKER, () => {});
    await waitFor(() => connections >= 2, "a second connection");
    expect(mp.diagnostics.deadConnections).toBeGreaterThanOrEqual(1);
  });

  it("closes a socket that is still connecting without crashing the process", async () => {
    // A server that accepts TCP and never answers the upgrade: the socket stays CONNECTING.
    const held: Socket[] = [];
    const tcp: Server = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", () => resolve()));
    const address = tcp.address();
    if (address === null || typeof address === "string") throw new Error("expected a TCP address");
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on("uncaughtException", onUncaught);
    try {
      mp = new MarketPulse({
        url: `http://127.0.0.1:${address.port}`,
        WebSocket,
        networkEvents: null,
      });
      mp.subscribe(TICKER, () => {});
      await waitFor(() => held.length === 1, "the TCP connection");
      mp.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(uncaught).toEqual([]);
      expect(mp.state).toBe("closed");
    } finally {
      process.off("uncaughtException", onUncaught);
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  });
});
