import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { compareSeq, isSeq } from "../src/seq.js";

describe("compareSeq", () => {
  it("orders by milliseconds, then by the counter, as numbers", () => {
    expect(compareSeq("9-0", "10-0")).toBeLessThan(0);
    expect(compareSeq("1700000000000-10", "1700000000000-9")).toBeGreaterThan(0);
    expect(compareSeq("1700000000001-0", "1700000000000-99")).toBeGreaterThan(0);
    expect(compareSeq("5-5", "5-5")).toBe(0);
  });

  it("agrees with numeric order on any pair of positions", () => {
    const position = fc.tuple(fc.nat({ max: 2 ** 45 }), fc.nat({ max: 1000 }));
    fc.assert(
      fc.property(position, position, ([msA, nA], [msB, nB]) => {
        const expected = msA === msB ? Math.sign(nA - nB) : Math.sign(msA - msB);
        expect(Math.sign(compareSeq(`${msA}-${nA}`, `${msB}-${nB}`))).toBe(expected);
      }),
    );
  });

  it("refuses what is not a stream position", () => {
    expect(() => compareSeq("abc", "1-0")).toThrow(TypeError);
    expect(() => compareSeq("1-0", "1-x")).toThrow(TypeError);
  });
});

describe("isSeq", () => {
  it("accepts `<ms>-<n>` only", () => {
    expect(isSeq("1795534469721-0")).toBe(true);
    expect(isSeq("1795534469721")).toBe(false);
    expect(isSeq("-1-0")).toBe(false);
    expect(isSeq(42)).toBe(false);
  });
});
