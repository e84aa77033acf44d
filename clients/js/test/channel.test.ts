import { describe, expect, it } from "vitest";

import { ChannelState } from "../src/channel.js";
import type { DeltaFrame } from "../src/protocol.js";

const NAME = "ticker:bitcoin";

function delta(seq: string, prev: string | null, data: unknown, epoch = "e1"): DeltaFrame {
  return { type: "delta", channel: NAME, epoch, seq, prev_seq: prev, data };
}

/** A channel subscribed and holding `{price: 1}` at 10-0 in epoch e1. */
function liveChannel(): ChannelState {
  const channel = new ChannelState(NAME);
  channel.subscribeSent(null);
  channel.onSubscribed({ type: "subscribed", channel: NAME, epoch: "e1", recovered: false });
  channel.onSnapshot({
    type: "snapshot",
    channel: NAME,
    epoch: "e1",
    seq: "10-0",
    data: { price: 1 },
  });
  return channel;
}

describe("ChannelState", () => {
  it("applies a snapshot, then deltas that follow it", () => {
    const channel = liveChannel();
    expect(channel.value).toEqual({ price: 1 });
    const change = channel.onDelta(delta("11-0", "10-0", { price: 2, volume: 5 }));
    expect(change).toMatchObject({
      type: "delta",
      seq: "11-0",
      prevSeq: "10-0",
      changed: ["price", "volume"],
    });
    expect(channel.value).toEqual({ price: 2, volume: 5 });
    expect(channel.onDelta(delta("12-0", "11-0", { volume: null }))).toMatchObject({
      removed: ["volume"],
    });
    expect(channel.value).toEqual({ price: 2 });
    expect(channel.saved()).toEqual({ epoch: "e1", seq: "12-0", value: { price: 2 } });
  });

  it("reports a gap when a delta does not follow the held seq, and keeps its value", () => {
    const channel = liveChannel();
    expect(channel.onDelta(delta("12-0", "11-0", { price: 3 }))).toBe("gap");
    expect(channel.value).toEqual({ price: 1 });
    expect(channel.seq).toBe("10-0");
  });

  it("drops a repeated or older delta", () => {
    const channel = liveChannel();
    channel.onDelta(delta("11-0", "10-0", { price: 2 }));
    expect(channel.onDelta(delta("11-0", "10-0", { price: 2 }))).toBe("duplicate");
    expect(channel.onDelta(delta("9-0", "8-0", { price: 0 }))).toBe("duplicate");
    expect(channel.value).toEqual({ price: 2 });
  });

  it("reports an epoch change before anything else, even with a lower seq", () => {
    const channel = liveChannel();
    expect(channel.onDelta(delta("5-0", null, { price: 9 }, "e2"))).toBe("epoch");
  });

  it("ignores frames until the subscription is answered", () => {
    const channel = new ChannelState(NAME);
    channel.subscribeSent(null);
    expect(channel.onDelta(delta("11-0", "10-0", { price: 2 }))).toBe("ignored");
    expect(
      channel.onSnapshot({ type: "snapshot", channel: NAME, epoch: "e1", seq: "10-0", data: {} }),
    ).toBeNull();
  });

  it("resubscribes without resume after a resync, and says why in the snapshot", () => {
    const channel = liveChannel();
    channel.requestResync("gap");
    expect(channel.phase).toBe("pending");
    expect(channel.resumePosition()).toBeNull();
    channel.subscribeSent(null);
    channel.onSubscribed({ type: "subscribed", channel: NAME, epoch: "e1", recovered: false });
    const change = channel.onSnapshot({
      type: "snapshot",
      channel: NAME,
      epoch: "e1",
      seq: "20-0",
      data: { price: 7 },
    });
    expect(change).toMatchObject({ reason: "gap", wasRecovering: false, seq: "20-0" });
    expect(channel.resumePosition()).toEqual({ epoch: "e1", seq: "20-0" });
  });

  it("keeps its value across a lost connection and resumes from its position", () => {
    const channel = liveChannel();
    channel.connectionLost();
    expect(channel.phase).toBe("pending");
    const position = channel.resumePosition();
    expect(position).toEqual({ epoch: "e1", seq: "10-0" });
    channel.subscribeSent(position);
    const recovered = channel.onSubscribed({
      type: "subscribed",
      channel: NAME,
      epoch: "e1",
      recovered: true,
    });
    expect(recovered).toEqual({ type: "recovered", channel: NAME, epoch: "e1", seq: "10-0" });
    expect(channel.onDelta(delta("11-0", "10-0", { price: 2 }))).toMatchObject({ type: "delta" });
  });

  it("tells a snapshot after a resume that could not recover", () => {
    const channel = liveChannel();
    channel.connectionLost();
    channel.subscribeSent(channel.resumePosition());
    channel.onSubscribed({ type: "subscribed", channel: NAME, epoch: "e2", recovered: false });
    const change = channel.onSnapshot({
      type: "snapshot",
      channel: NAME,
      epoch: "e2",
      seq: "3-0",
      data: { price: 5 },
    });
    expect(change).toMatchObject({ reason: "reconnect", wasRecovering: true, epoch: "e2" });
  });

  it("holds no value after an empty snapshot and takes a channel's first update", () => {
    const channel = new ChannelState(NAME);
    channel.subscribeSent(null);
    channel.onSubscribed({ type: "subscribed", channel: NAME, epoch: null, recovered: false });
    const change = channel.onSnapshot({
      type: "snapshot",
      channel: NAME,
      epoch: null,
      seq: null,
      data: null,
    });
    expect(change).toMatchObject({ seq: null, epoch: null, reason: "subscribe" });
    expect(channel.value).toBeUndefined();
    expect(channel.resumePosition()).toBeNull();
    expect(channel.onDelta(delta("1-0", "0-1", { price: 1 }))).toBe("gap");
    expect(channel.onDelta(delta("1-0", null, { price: 1, low: null }))).toMatchObject({
      type: "delta",
    });
    expect(channel.value).toEqual({ price: 1 });
  });

  it("clears a value the server no longer has (an empty snapshot after data loss)", () => {
    const channel = liveChannel();
    channel.requestResync("epoch");
    channel.subscribeSent(null);
    channel.onSubscribed({ type: "subscribed", channel: NAME, epoch: null, recovered: false });
    channel.onSnapshot({ type: "snapshot", channel: NAME, epoch: null, seq: null, data: null });
    expect(channel.value).toBeUndefined();
    expect(channel.saved()).toBeNull();
  });

  it("starts from a saved value and resumes from it", () => {
    const channel = new ChannelState(NAME, {
      epoch: "e1",
      seq: "10-0",
      value: { price: 1, low: null },
    });
    expect(channel.value).toEqual({ price: 1 });
    expect(channel.resumePosition()).toEqual({ epoch: "e1", seq: "10-0" });
  });

  it("asks for a resync when told it recovered from nothing", () => {
    const channel = new ChannelState(NAME);
    channel.subscribeSent(null);
    expect(
      channel.onSubscribed({ type: "subscribed", channel: NAME, epoch: "e1", recovered: true }),
    ).toBe("resync");
  });
});
