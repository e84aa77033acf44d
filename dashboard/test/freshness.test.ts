import { describe, expect, it } from "vitest";

import type { Change } from "@marketpulse/client";

import {
  candleProducedAt,
  fromMeta,
  NEVER,
  panelState,
  tickerProducedAt,
  updated,
} from "../src/freshness.js";
import { servedTimeframes } from "../src/timeframes.js";

const now = 1_000_000;
const fresh = { producedAt: now - 1000, serverStale: false };

describe("panelState", () => {
  it("is live only with a live stream, fresh data and the gateway's blessing", () => {
    expect(panelState("live", fresh, now, 5000)).toBe("live");
    expect(panelState("live", { ...fresh, serverStale: true }, now, 5000)).toBe("stale");
    expect(panelState("live", fresh, now + 10_000, 5000)).toBe("stale");
  });

  it("says reconnecting or stale whenever the stream is not live", () => {
    expect(panelState("reconnecting", fresh, now, 5000)).toBe("reconnecting");
    expect(panelState("connecting", fresh, now, 5000)).toBe("reconnecting");
    expect(panelState("closed", fresh, now, 5000)).toBe("reconnecting");
    expect(panelState("stale", fresh, now, 5000)).toBe("stale");
  });

  it("is waiting before any data", () => {
    expect(panelState("live", NEVER, now, 5000)).toBe("waiting");
  });
});

describe("fromMeta", () => {
  it("dates the data by the gateway's age", () => {
    expect(fromMeta({ age_s: 2.5, stale: false }, now)).toEqual({
      producedAt: now - 2500,
      serverStale: false,
    });
    expect(fromMeta({ age_s: null, stale: true }, now)).toEqual(NEVER);
  });
});

describe("updated", () => {
  const snapshot: Change = {
    type: "snapshot",
    channel: "ticker:bitcoin",
    epoch: "e1",
    seq: "1-0",
    reason: "subscribe",
    wasRecovering: false,
  };
  const delta: Change = {
    type: "delta",
    channel: "ticker:bitcoin",
    epoch: "e1",
    seq: "2-0",
    prevSeq: "1-0",
    changed: ["price"],
    removed: [],
  };

  it("dates a first value that came over the stream by its own time, not its arrival", () => {
    expect(updated(snapshot, NEVER, now - 90_000, now)).toEqual({
      producedAt: now - 90_000,
      serverStale: false,
    });
  });

  it("dates a first value with no time of its own by its arrival", () => {
    expect(updated(snapshot, NEVER, null, now)).toEqual({ producedAt: now, serverStale: false });
  });

  it("never dates a value after now (a clock ahead of this one)", () => {
    expect(updated(snapshot, NEVER, now + 5_000, now).producedAt).toBe(now);
  });

  it("keeps the age REST gave for a later snapshot, and dates a delta now", () => {
    const fromRest = { producedAt: now - 30_000, serverStale: true };
    expect(updated(snapshot, fromRest, now - 90_000, now)).toBe(fromRest);
    expect(updated(delta, fromRest, now - 90_000, now)).toEqual({
      producedAt: now,
      serverStale: false,
    });
  });
});

describe("candleProducedAt", () => {
  it("is the candle's close: its open time plus the timeframe, in ms", () => {
    expect(candleProducedAt({ t: 1_767_225_600 }, 3600)).toBe(1_767_229_200_000);
    expect(candleProducedAt({ t: 1_767_225_600 }, 300)).toBe(1_767_225_900_000);
  });

  it("is null for a timeframe of unknown length", () => {
    expect(candleProducedAt({ t: 1_767_225_600 }, null)).toBeNull();
  });
});

describe("tickerProducedAt", () => {
  it("is the ticker's last_updated, in ms", () => {
    expect(tickerProducedAt({ last_updated: "2026-01-01T00:00:00Z" })).toBe(1_767_225_600_000);
  });

  it("is null when last_updated is missing or unreadable", () => {
    expect(tickerProducedAt({})).toBeNull();
    expect(tickerProducedAt({ last_updated: "soon" })).toBeNull();
  });
});

describe("servedTimeframes", () => {
  it("lists every timeframe /v1/assets names, once, shortest first", () => {
    const assets = [{ timeframes: ["1h", "5m"] }, { timeframes: ["1d", "5m", "7m"] }];
    expect(servedTimeframes(assets)).toEqual(["5m", "1h", "1d"]);
  });
});
