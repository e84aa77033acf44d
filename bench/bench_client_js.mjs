/**
 * Deltas the TypeScript client (clients/js/dist) applies per second in Node, beside a plain
 * `JSON.parse` loop over the same frames as the baseline.
 *
 * The frames are what the gateway sends for a dashboard: deltas of ticker, candles,
 * indicators and forecast channels, each chained to the one before by `prev_seq`, shaped and
 * sized like the real ones (a ticker delta ~200 bytes, an indicators delta ~700). The client
 * path is the whole receive path: the WebSocket message handler, JSON.parse, the order and
 * gap checks, the shallow merge into a new value, the change description and a listener
 * call per delta. Rounds alternate between the two so that whatever else the machine does
 * falls on both; the best round of each is reported.
 *
 *     node bench/bench_client_js.mjs [--quick]      → one JSON object on stdout
 */

import { MarketPulse } from "../clients/js/dist/index.js";

const quick = process.argv.includes("--quick");
const FRAMES = quick ? 20_000 : 200_000;
const ROUNDS = quick ? 3 : 7;
const CHANNELS = [
  "ticker:bitcoin",
  "candles:bitcoin:5m",
  "indicators:bitcoin:5m",
  "forecast:bitcoin:5m",
];

/** A tiny deterministic generator, so every run measures the same frames. */
function generator(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const random = generator(42);

function initial(channel) {
  if (channel.startsWith("ticker:")) {
    return {
      asset: "bitcoin",
      vs_currency: "usd",
      price: 64000,
      change_24h_pct: 1.2,
      high_24h: 65000,
      low_24h: 63000,
      volume_24h: 2.8e10,
      market_cap: 1.2e12,
      last_updated: "2026-01-01T00:00:00Z",
    };
  }
  if (channel.startsWith("candles:"))
    return { t: 0, o: 1, h: 1, l: 1, c: 1, v: 10 };
  if (channel.startsWith("indicators:"))
    return { asset: "bitcoin", tf: "5m", params: {}, lookback: {} };
  return {
    asset: "bitcoin",
    tf: "5m",
    model_version: "logit-1",
    source: "live",
  };
}

/** The changed fields of the n-th update of `channel`, as the gateway's diff sends them. */
function changes(channel, n) {
  const x = () => Number((random() * 1000).toFixed(6));
  if (channel.startsWith("ticker:")) {
    return {
      price: 64000 + x(),
      change_24h_pct: x() / 100,
      volume_24h: 2.8e10 + x(),
      market_cap: 1.2e12 + x(),
      last_updated: new Date(1_767_225_600_000 + n * 1000).toISOString(),
    };
  }
  if (channel.startsWith("candles:")) {
    return {
      t: 1_767_225_600 + n * 300,
      o: x(),
      h: x() + 1000,
      l: x() / 10,
      c: x(),
      v: x(),
    };
  }
  if (channel.startsWith("indicators:")) {
    const values = {};
    for (const name of [
      "sma_20",
      "ema_12",
      "ema_26",
      "ema_50",
      "rsi_14",
      "macd",
      "macd_signal",
      "macd_hist",
      "bb_upper",
      "bb_middle",
      "bb_lower",
      "atr_14",
      "realized_vol_20",
      "obv",
      "vwap_20",
    ]) {
      values[name] = x();
    }
    return {
      window: {
        tf: "5m",
        first_open: n * 300,
        last_open: n * 300 + 149_700,
        count: 500,
        input_hash: `h${n}`,
      },
      values,
      computed_at: new Date(1_767_225_600_000 + n * 1000).toISOString(),
    };
  }
  return {
    origin: 1_767_225_600 + n * 300,
    resolves_at: 1_767_225_900 + n * 300,
    p_up: random(),
    expected_return: x() / 1e5,
    interval: { level: 0.9, low: -x() / 1e5, high: x() / 1e5 },
    volatility: x() / 1e5,
    computed_at: new Date(1_767_225_600_000 + n * 1000).toISOString(),
  };
}

/** Subscribe frames (subscribed + snapshot) and `count` chained deltas, as JSON text. */
function frames(count) {
  const opening = [];
  const seq = new Map();
  for (const [i, channel] of CHANNELS.entries()) {
    const first = `1767225600000-${i}`;
    seq.set(channel, first);
    opening.push(
      JSON.stringify({
        type: "subscribed",
        channel,
        epoch: "e1",
        recovered: false,
      }),
    );
    opening.push(
      JSON.stringify({
        type: "snapshot",
        channel,
        epoch: "e1",
        seq: first,
        data: initial(channel),
      }),
    );
  }
  const deltas = [];
  for (let n = 1; n <= count; n += 1) {
    const channel = CHANNELS[n % CHANNELS.length];
    const prev = seq.get(channel);
    const next = `${1_767_225_600_000 + n}-0`;
    seq.set(channel, next);
    deltas.push(
      JSON.stringify({
        type: "delta",
        channel,
        epoch: "e1",
        seq: next,
        prev_seq: prev,
        data: changes(channel, n),
      }),
    );
  }
  return { opening, deltas };
}

/** A WebSocket that delivers nothing by itself: the benchmark hands it frames. */
class BenchSocket {
  static last = null;
  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;
  constructor() {
    BenchSocket.last = this;
  }
  send() {}
  close() {}
}

function baseline(deltas) {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < deltas.length; i += 1) {
    sink += JSON.parse(deltas[i]).seq.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (sink === 0) throw new Error("the baseline parsed nothing");
  return seconds;
}

async function client(opening, deltas) {
  const mp = new MarketPulse({
    url: "http://bench.invalid",
    WebSocket: BenchSocket,
    networkEvents: null,
  });
  let told = 0;
  for (const channel of CHANNELS) mp.subscribe(channel, () => (told += 1));
  const socket = BenchSocket.last;
  socket.onopen({});
  await Promise.resolve(); // the batched subscribe goes out
  for (const data of opening) socket.onmessage({ data });
  const started = process.hrtime.bigint();
  for (let i = 0; i < deltas.length; i += 1)
    socket.onmessage({ data: deltas[i] });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const { deltasApplied, gaps } = mp.diagnostics;
  mp.close();
  if (
    deltasApplied !== deltas.length ||
    gaps !== 0 ||
    told !== deltas.length + CHANNELS.length
  ) {
    throw new Error(
      `the client applied ${deltasApplied} of ${deltas.length} deltas (${gaps} gaps)`,
    );
  }
  return seconds;
}

const { opening, deltas } = frames(FRAMES);
const bytes = deltas.reduce((sum, text) => sum + text.length, 0);
// Warm both paths up so the JIT has settled before anything is timed.
baseline(deltas.slice(0, 20_000));
await client(opening, deltas.slice(0, 20_000));
const times = { baseline: [], client: [] };
for (let round = 0; round < ROUNDS; round += 1) {
  times.baseline.push(baseline(deltas));
  times.client.push(await client(opening, deltas));
}
const best = (list) => Math.min(...list);
const result = {
  node: process.version,
  frames: deltas.length,
  mean_frame_bytes: Math.round(bytes / deltas.length),
  rounds: ROUNDS,
  baseline_per_s: deltas.length / best(times.baseline),
  client_per_s: deltas.length / best(times.client),
};
result.ratio = result.client_per_s / result.baseline_per_s;
process.stdout.write(`${JSON.stringify(result)}\n`);
