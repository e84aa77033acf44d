#!/usr/bin/env node
/**
 * The built client (dist/) against a real gateway, for tests to drive: it subscribes to
 * channels and prints one JSON line per event on stdout, and takes JSON-line commands on
 * stdin. It runs until stdin closes (or `--seconds` pass), then prints a final `dump` and
 * exits 0.
 *
 *     node clients/js/test/live/watch.mjs --url http://127.0.0.1:8000 \
 *         --channels ticker:bitcoin,indicators:bitcoin:5m [--api-key KEY] [--seconds N] \
 *         [--resume-from positions.json] [--heartbeat-ms N] [--frames] [--values]
 *
 * Lines out (`t`: ms since the epoch):
 *   {"event":"state","state":"live","previous":"connecting","t":…}
 *   {"event":"change","channel":…,"type":"snapshot"|"delta"|"recovered","seq":…,"prevSeq":…,
 *    "epoch":…,"reason":…,"wasRecovering":…,"changed":[…],"removed":[…],"value":…?,"t":…}
 *   {"event":"frame","frame":{…}}                 every frame received (with --frames)
 *   {"event":"error","kind":…,"message":…,"fatal":…,"closeCode":…,"code":…,"channel":…}
 *   {"event":"dump","values":{…},"positions":{…},"diagnostics":{…}}
 *   {"event":"rest","id":…,"ok":true,"body":…} | {"event":"rest","id":…,"ok":false,"error":{…}}
 *
 * Commands in (one JSON object a line):
 *   {"cmd":"dump"}   {"cmd":"subscribe","channel":…}   {"cmd":"unsubscribe","channel":…}
 *   {"cmd":"close"}  {"cmd":"connect"}
 *   {"cmd":"stall"}  {"cmd":"release"}   stop / start reading the current socket (ws pause()):
 *                                         a reader too slow for the gateway, for a 4008 test
 *   {"cmd":"rest","id":1,"method":"ticker","args":["bitcoin"]}   (any REST method of the client)
 */

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

import WebSocket from "ws";

import { MarketPulse } from "../../dist/index.js";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    channels: { type: "string", default: "" },
    "api-key": { type: "string" },
    seconds: { type: "string" },
    "resume-from": { type: "string" },
    "heartbeat-ms": { type: "string" },
    frames: { type: "boolean", default: false },
    values: { type: "boolean", default: false },
  },
});

if (args.url === undefined) {
  process.stderr.write("watch.mjs: --url is required\n");
  process.exit(2);
}

function print(line) {
  process.stdout.write(`${JSON.stringify({ ...line, t: Date.now() })}\n`);
}

/** Every socket the client opened, newest last: `stall` pauses the open one. */
const sockets = [];

/** ws, remembered for `stall`, and (with --frames) printing every frame it receives before
 * the client handles it. */
class TrackedWebSocket extends WebSocket {
  constructor(url) {
    super(url);
    sockets.push(this);
    if (!args.frames) return;
    this.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(String(event.data));
      } catch {
        frame = { unreadable: String(event.data) };
      }
      print({ event: "frame", frame });
    });
  }
}

const resumeFrom =
  args["resume-from"] === undefined
    ? undefined
    : JSON.parse(readFileSync(args["resume-from"], "utf8"));

const mp = new MarketPulse({
  url: args.url,
  apiKey: args["api-key"],
  WebSocket: TrackedWebSocket,
  heartbeatMs: args["heartbeat-ms"] === undefined ? undefined : Number(args["heartbeat-ms"]),
  resumeFrom,
});

mp.on("state", (state, previous) => print({ event: "state", state, previous }));
mp.on("error", (error) =>
  print({
    event: "error",
    name: error.name,
    kind: error.kind ?? null,
    message: error.message,
    fatal: error.fatal ?? false,
    closeCode: error.closeCode ?? null,
    code: error.code ?? null,
    channel: error.channel ?? null,
  }),
);

const subscriptions = new Map();

function subscribe(channel) {
  if (subscriptions.has(channel)) return;
  const off = mp.subscribe(channel, (value, change) => {
    const line = { event: "change", ...change };
    if (args.values) line.value = value ?? null;
    print(line);
  });
  subscriptions.set(channel, off);
}

function dump() {
  const values = {};
  for (const channel of subscriptions.keys()) values[channel] = mp.value(channel) ?? null;
  print({ event: "dump", values, positions: mp.positions(), diagnostics: mp.diagnostics });
}

async function rest(command) {
  const method = mp[command.method];
  if (typeof method !== "function" || command.method.startsWith("_")) {
    print({
      event: "rest",
      id: command.id ?? null,
      ok: false,
      error: { message: `no method ${command.method}` },
    });
    return;
  }
  try {
    const body = await method.apply(mp, command.args ?? []);
    print({ event: "rest", id: command.id ?? null, ok: true, body, rest: mp.diagnostics.rest });
  } catch (error) {
    const { name, message, status, type, title, detail, retryAfter } = error;
    print({
      event: "rest",
      id: command.id ?? null,
      ok: false,
      error: { name, message, status, type, title, detail, retryAfter },
    });
  }
}

let finished = false;

function finish() {
  if (finished) return;
  finished = true;
  dump();
  mp.close();
  // Let stdout drain, then leave even if a socket is still closing.
  process.stdout.write("", () => process.exit(0));
}

for (const channel of args.channels.split(",").filter(Boolean)) subscribe(channel);
print({ event: "ready", url: mp.url });

const input = createInterface({ input: process.stdin });
input.on("line", (text) => {
  if (text.trim() === "") return;
  let command;
  try {
    command = JSON.parse(text);
  } catch {
    print({ event: "error", kind: "command", message: `not JSON: ${text}` });
    return;
  }
  switch (command.cmd) {
    case "dump":
      dump();
      break;
    case "subscribe":
      subscribe(command.channel);
      break;
    case "unsubscribe":
      subscriptions.get(command.channel)?.();
      subscriptions.delete(command.channel);
      break;
    case "close":
      mp.close();
      break;
    case "connect":
      mp.connect();
      break;
    case "stall":
      sockets.at(-1)?.pause();
      print({ event: "stalled", socket: sockets.length });
      break;
    case "release":
      for (const socket of sockets) socket.resume();
      print({ event: "released" });
      break;
    case "rest":
      void rest(command);
      break;
    default:
      print({ event: "error", kind: "command", message: `unknown command ${command.cmd}` });
  }
});
input.on("close", finish);

if (args.seconds !== undefined) setTimeout(finish, Number(args.seconds) * 1000);
