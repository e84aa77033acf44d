/**
 * Ordering of stream positions. A `seq` is a Redis stream entry id, `<ms>-<n>`: the
 * millisecond it was written and a counter within that millisecond. Both parts are compared
 * as numbers (string order would put "9-0" after "10-0").
 */

const POSITION = /^(\d{1,16})-(\d{1,16})$/;

/** Whether `seq` is a stream position the gateway could have sent. */
export function isSeq(seq: unknown): seq is string {
  return typeof seq === "string" && POSITION.test(seq);
}

/**
 * Negative when `a` comes before `b`, zero when equal, positive after. Throws a TypeError for
 * a string that is not a position (a frame carrying one is not the gateway's).
 */
export function compareSeq(a: string, b: string): number {
  if (a === b) return 0;
  const i = a.indexOf("-");
  const j = b.indexOf("-");
  const msA = Number(a.slice(0, i));
  const msB = Number(b.slice(0, j));
  if (i < 1 || j < 1 || !Number.isSafeInteger(msA) || !Number.isSafeInteger(msB)) {
    throw new TypeError(`not a stream position: ${JSON.stringify(i < 1 ? a : b)}`);
  }
  if (msA !== msB) return msA - msB;
  const nA = Number(a.slice(i + 1));
  const nB = Number(b.slice(j + 1));
  if (!Number.isSafeInteger(nA) || !Number.isSafeInteger(nB)) {
    throw new TypeError(
      `not a stream position: ${JSON.stringify(Number.isSafeInteger(nA) ? b : a)}`,
    );
  }
  return nA - nB;
}
