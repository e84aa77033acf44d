/**
 * How a channel's value is built from frames. Pure.
 *
 * The gateway sends a delta as the top-level fields that changed, and a field that
 * disappeared as null; a client applies it with a shallow merge. On the wire "became null"
 * and "was removed" are the same thing, so this client keeps one representation for both: a
 * value never holds a top-level null, the field is simply absent. Snapshots are read the same
 * way, which makes the value independent of the path that built it: snapshot + deltas gives
 * exactly what a fresh snapshot gives (every top-level field of the generated types that can
 * be null is also optional, so the types stay true).
 */

/** A JSON object as it arrives in a frame. */
export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value a snapshot's data stands for: top-level nulls dropped, anything else as is. */
export function fromSnapshot(data: unknown): unknown {
  if (!isObject(data)) return data;
  for (const key in data) {
    if (data[key] === null) return withoutNulls(data, undefined);
  }
  return data;
}

/**
 * `state` with `delta` applied. An object delta on an object state is merged (a null field
 * removes it); anything else (a first value, a non-object value) replaces the state, as the
 * gateway sends a whole value whenever it had nothing to diff against. Never mutates either.
 */
export function applyDelta(state: unknown, delta: unknown): unknown {
  if (!isObject(delta)) return delta;
  if (!isObject(state)) return fromSnapshot(delta);
  for (const key in delta) {
    if (delta[key] === null) return withoutNulls(state, delta);
  }
  // The common case, and the fast one: spread defines own properties (even "__proto__").
  return { ...state, ...delta };
}

/** `{...state, ...delta}` without the fields that are null in the result (slow path). */
function withoutNulls(state: JsonObject, delta: JsonObject | undefined): JsonObject {
  const merged: JsonObject = delta === undefined ? state : { ...state, ...delta };
  const entries = Object.entries(merged).filter(([, field]) => field !== null);
  return Object.fromEntries(entries);
}
