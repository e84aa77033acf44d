"""Publishing: stream + snapshot in one step, ordered by seq and by ver, with epochs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from marketpulse_common.events import Candle, Ticker, encode_payload
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import (
    ChannelField,
    Publisher,
    StreamEntry,
    entry_from_fields,
    read_snapshot,
    read_snapshots,
    read_version,
)
from marketpulse_common.retention import trim_stream
from marketpulse_common.timeframes import Timeframe

pytestmark = pytest.mark.redis


def ticker(asset: str, price: float) -> Ticker:
    return Ticker(asset=asset, vs_currency="usd", price=price, last_updated=datetime.now(UTC))


async def test_each_entry_links_to_the_previous_and_the_snapshot_is_the_last(
    redis: Redis, unique: str
) -> None:
    """seq increases, `prev` chains entries, and the snapshot holds the newest value."""
    pub, ch = Publisher(redis), Channel(ChannelKind.TICKER, unique)
    results = [await pub.publish(ch, ticker(unique, p)) for p in (1.0, 2.0, 3.0)]
    entries = await redis.xrange(ch.stream_key)
    assert [e[0] for e in entries] == [r.seq for r in results if r]
    assert [e[1]["prev"] for e in entries] == ["", entries[0][0], entries[1][0]]
    assert len({r.epoch for r in results if r}) == 1
    snap = await read_snapshot(redis, ch)
    assert snap is not None and snap.seq == entries[-1][0]
    assert snap.decode() == ticker(unique, 3.0).model_copy(
        update={"last_updated": snap.decode().last_updated}  # type: ignore[attr-defined]
    )


async def test_a_value_not_newer_by_ver_is_not_published(redis: Redis, unique: str) -> None:
    """Same or older ver → nothing written: idempotent, and old never overwrites new."""
    pub, ch = Publisher(redis), Channel(ChannelKind.CANDLES, unique, Timeframe.H1)
    newer = Candle(t=7200, o=1, h=2, l=1, c=2)
    older = Candle(t=3600, o=1, h=1, l=1, c=1)
    assert await pub.publish(ch, newer, ver=7200) is not None
    assert await pub.publish(ch, newer, ver=7200) is None
    assert await pub.publish(ch, older, ver=3600) is None
    assert await redis.xlen(ch.stream_key) == 1
    snap = await read_snapshot(redis, ch)
    assert snap is not None and snap.decode() == newer


async def test_a_versioned_value_follows_an_unversioned_one(redis: Redis, unique: str) -> None:
    """A snapshot stored without a ver (ver "") is older than any versioned value; the
    script compared a number with nil and failed the publish."""
    pub, ch = Publisher(redis), Channel(ChannelKind.TICKER, unique)
    assert await pub.publish(ch, ticker(unique, 1.0)) is not None
    assert await pub.publish(ch, ticker(unique, 2.0), ver=5) is not None
    assert await read_version(redis, ch) == 5


async def test_a_lost_stream_starts_a_new_epoch(redis: Redis, unique: str) -> None:
    """When the history stream is gone, the next publish starts a new epoch with no prev."""
    pub, ch = Publisher(redis), Channel(ChannelKind.TICKER, unique)
    first = await pub.publish(ch, ticker(unique, 1.0))
    await redis.delete(ch.stream_key)
    second = await pub.publish(ch, ticker(unique, 2.0))
    assert first and second and first.epoch != second.epoch
    ((_, fields),) = await redis.xrange(ch.stream_key)
    assert fields["prev"] == ""


async def test_trimming_keeps_entries_a_group_has_not_acknowledged(
    redis: Redis, unique: str
) -> None:
    """trim_stream bounds history but stops at the oldest entry a group still needs."""
    stream = f"s-{unique}"
    ids = [await redis.xadd(stream, {"n": str(i)}) for i in range(10)]
    await redis.xgroup_create(stream, "g", id="0")
    await redis.xreadgroup("g", "c", {stream: ">"}, count=3)  # 3 pending, unacked
    await redis.xack(stream, "g", ids[0])
    await trim_stream(redis, stream, maxlen=2)
    remaining = [e[0] for e in await redis.xrange(stream)]
    assert remaining == ids[1:]  # ids[1] is still pending
    await redis.xack(stream, "g", ids[1], ids[2])
    await redis.xreadgroup("g", "c", {stream: ">"})
    await redis.xack(stream, "g", *ids[3:])
    await trim_stream(redis, stream, maxlen=2)
    assert [e[0] for e in await redis.xrange(stream)] == ids[-2:]


async def test_trimming_keeps_entries_a_group_has_not_read(redis: Redis, unique: str) -> None:
    """Entries after a group's last-delivered id are never trimmed."""
    stream = f"s-{unique}"
    ids = [await redis.xadd(stream, {"n": str(i)}) for i in range(6)]
    await redis.xgroup_create(stream, "g", id=ids[1])
    await trim_stream(redis, stream, maxlen=1)
    assert [e[0] for e in await redis.xrange(stream)] == ids[2:]


async def test_snapshots_of_several_channels_are_read_together(redis: Redis, unique: str) -> None:
    """read_snapshots returns each channel's snapshot (None where absent), with its ver."""
    pub = Publisher(redis)
    candles = Channel(ChannelKind.CANDLES, unique, Timeframe.H1)
    await pub.publish(candles, Candle(t=3600, o=1, h=1, l=1, c=1), ver=3600)
    await pub.publish(Channel(ChannelKind.TICKER, unique), ticker(unique, 5.0))
    snaps = await read_snapshots(
        redis,
        [candles, Channel(ChannelKind.TICKER, unique), Channel(ChannelKind.SENTIMENT, unique)],
    )
    assert snaps[0] is not None and snaps[0].ver == 3600
    assert snaps[1] is not None and snaps[1].ver is None
    assert snaps[2] is None


async def test_the_source_travels_with_the_value(redis: Redis, unique: str) -> None:
    """A publisher's source is stored on the snapshot and on each stream entry."""
    ch = Channel(ChannelKind.TICKER, unique)
    await Publisher(redis, source="simulated").publish(ch, ticker(unique, 1.0))
    snap = await read_snapshot(redis, ch)
    assert snap is not None and snap.source == "simulated"
    ((_, fields),) = await redis.xrange(ch.stream_key)
    assert fields["src"] == "simulated"


async def test_an_entry_reads_back_as_it_was_published(redis: Redis, unique: str) -> None:
    """entry_from_fields gives back the published value and its place; the publisher writes
    no field that ChannelField does not name."""
    ch, pub = Channel(ChannelKind.TICKER, unique), Publisher(redis, source="simulated")
    value = ticker(unique, 2.0)
    first = await pub.publish(ch, ticker(unique, 1.0))
    second = await pub.publish(ch, value, ts=1_700_000_000.25)
    assert first is not None and second is not None
    _, (_, fields) = await redis.xrange(ch.stream_key)
    assert entry_from_fields(fields) == StreamEntry(
        schema="ticker/1",
        ts=1_700_000_000.25,
        data=encode_payload(value),
        epoch=second.epoch,
        prev=first.seq,
        source="simulated",
    )
    assert set(fields) <= set(ChannelField)
    assert set(await redis.hgetall(ch.snapshot_key)) <= set(ChannelField)
