from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.integration.compute.harness import Compute, start_compute


@pytest.fixture
async def compute(redis: Redis, unique: str) -> AsyncIterator[Compute]:
    """A compute consumer on the asset `unique`, stopped (and awaited) after the test."""
    harness, stop, task = start_compute(redis, unique)
    yield harness
    stop.set()
    await asyncio.wait_for(task, 10)
