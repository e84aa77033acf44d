import { describe, expect, it } from "vitest";

import { fromMeta, NEVER, panelState } from "../src/freshness.js";
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

describe("servedTimeframes", () => {
  it("lists every timeframe /v1/assets names, once, shortest first", () => {
    const assets = [{ timeframes: ["1h", "5m"] }, { timeframes: ["1d", "5m", "7m"] }];
    expect(servedTimeframes(assets)).toEqual(["5m", "1h", "1d"]);
  });
});
