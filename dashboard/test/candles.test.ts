import { describe, expect, it } from "vitest";

import { CandleBook, type Bar } from "../src/candles.js";

const bar = (t: number, c = 1): Bar => ({ t, o: c, h: c, l: c, c });

describe("CandleBook", () => {
  it("appends newer bars and replaces a bar with the same open time", () => {
    const book = new CandleBook(10);
    expect(book.push(bar(60))).toBe("append");
    expect(book.push(bar(120))).toBe("append");
    expect(book.push(bar(120, 2))).toBe("replace");
    expect(book.all.map((b) => [b.t, b.c])).toEqual([
      [60, 1],
      [120, 2],
    ]);
  });

  it("drops a bar older than the last one (the chart's update() would throw)", () => {
    const book = new CandleBook(10);
    book.push(bar(120));
    expect(book.push(bar(60))).toBe("drop");
    expect(book.size).toBe(1);
    expect(book.dropped).toBe(1);
  });

  it("stays bounded: trims back to its limit once it grows by the slack, and says reset", () => {
    const book = new CandleBook(4, 2);
    const seen = [];
    for (let i = 1; i <= 20; i++) seen.push(book.push(bar(i * 60)));
    expect(book.size).toBeLessThanOrEqual(6);
    expect(seen.filter((p) => p === "reset").length).toBeGreaterThan(0);
    expect(book.last?.t).toBe(20 * 60);
    const times = book.all.map((b) => b.t);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it("loads a history sorted, one bar per open time, within its limit", () => {
    const book = new CandleBook(3);
    book.load([bar(300), bar(60), bar(120), bar(120, 5), bar(180)]);
    expect(book.all.map((b) => b.t)).toEqual([120, 180, 300]);
    expect(book.all[0]?.c).toBe(5);
  });
});
