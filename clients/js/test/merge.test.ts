import { describe, expect, it } from "vitest";

import { applyDelta, fromSnapshot } from "../src/merge.js";

describe("applyDelta", () => {
  it("sets the changed fields and keeps the others", () => {
    expect(applyDelta({ a: 1, b: 2 }, { b: 3, c: 4 })).toEqual({ a: 1, b: 3, c: 4 });
  });

  it("removes a field sent as null", () => {
    expect(applyDelta({ a: 1, b: 2 }, { b: null })).toEqual({ a: 1 });
    expect(applyDelta({ a: 1, b: 2 }, { b: null })).not.toHaveProperty("b");
  });

  it("replaces nested values whole (the merge is shallow)", () => {
    expect(applyDelta({ v: { x: 1, y: 2 } }, { v: { x: 5 } })).toEqual({ v: { x: 5 } });
  });

  it("never mutates the state or the delta", () => {
    const state = Object.freeze({ a: 1, b: 2 });
    const delta = Object.freeze({ b: null, c: 3 });
    expect(applyDelta(state, delta)).toEqual({ a: 1, c: 3 });
    expect(state).toEqual({ a: 1, b: 2 });
    expect(delta).toEqual({ b: null, c: 3 });
  });

  it("takes a whole value when there is nothing to merge into", () => {
    expect(applyDelta(undefined, { a: 1, b: null })).toEqual({ a: 1 });
    expect(applyDelta({ a: 1 }, [1, 2])).toEqual([1, 2]);
  });

  it("keeps a __proto__ field as data, never as the prototype", () => {
    const delta = JSON.parse('{"__proto__": {"polluted": true}, "gone": null}') as unknown;
    const value = applyDelta({ gone: 1 }, delta) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect(Object.keys(value)).toEqual(["__proto__"]);
  });
});

describe("fromSnapshot", () => {
  it("drops top-level nulls so a snapshot and a delta path agree", () => {
    const viaDelta = applyDelta({ a: 1, b: 2 }, { b: null });
    expect(fromSnapshot({ a: 1, b: null })).toEqual(viaDelta);
  });

  it("keeps nested nulls", () => {
    expect(fromSnapshot({ values: { obv: null } })).toEqual({ values: { obv: null } });
  });
});
