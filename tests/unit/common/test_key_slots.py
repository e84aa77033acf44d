"""Every key of one asset (and of one lease, one upstream host) lives in one cluster slot.

That is what lets the publish script, the MULTI reads of an asset's snapshots and the
consumer's per-slot XREADGROUP work on Redis Cluster. Slots are computed with redis-py's
CRC16 (the cluster's own rule); tests/integration/test_cluster_slots.py checks the same
names against CLUSTER KEYSLOT on a real cluster.
"""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from marketpulse_common import keys
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.timeframes import Timeframe


def asset_keys(asset: str) -> list[str]:
    """Every key name the product derives from one asset."""
    names: list[str] = []
    for kind in ChannelKind:
        for tf in list(Timeframe) if kind.has_timeframe else [None]:
            channel = Channel(kind, asset, tf)
            names += [channel.stream_key, channel.snapshot_key]
    for tf in Timeframe:
        names += [
            keys.candles_key(asset, tf),
            keys.forecasts_key(asset, tf),
            keys.gap_attempts_key(asset, tf),
        ]
    names += [keys.sentiment_headlines_key(asset), keys.sentiment_gate_key(asset)]
    return names


@pytest.mark.parametrize("asset", ["bitcoin", "ethereum", "solana", "a", "usd-coin"])
def test_every_key_of_an_asset_maps_to_one_slot(asset: str) -> None:
    names = asset_keys(asset)
    assert len(names) > 40  # every family is in the list
    assert {key_slot(name.encode()) for name in names} == {key_slot(asset.encode())}


def test_assets_spread_over_slots() -> None:
    """The tag is the asset itself, so different assets land in different slots."""
    slots = {
        key_slot(keys.candles_key(a, Timeframe.H1).encode())
        for a in ("bitcoin", "ethereum", "solana")
    }
    assert len(slots) == 3


def test_a_lease_and_its_fence_and_slot_share_a_slot() -> None:
    job = "tickers"
    names = [keys.lease_key(job), keys.fence_key(job), keys.job_slot_key(job)]
    assert len({key_slot(n.encode()) for n in names}) == 1


def test_the_upstream_budget_keys_of_a_host_share_a_slot() -> None:
    host = "api.coingecko.com"
    names = [
        keys.upstream_calls_key(host),
        keys.upstream_month_key(host, "2026-12"),
        keys.upstream_gate_key(host),
    ]
    assert len({key_slot(n.encode()) for n in names}) == 1
