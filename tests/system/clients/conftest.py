from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.system.stack import SMALL_QUEUE, Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, ingestor, compute and a gateway as processes, shared by one test module; each
    test leaves the gateway running (tests that wipe Redis get `fresh_stack`)."""
    with running_stack(tmp_path_factory.mktemp("stack")) as started:
        started.wait_for_value("ticker:bitcoin")
        yield started


@pytest.fixture
def fresh_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of the test's own, for tests that destroy what others would need."""
    with running_stack(tmp_path_factory.mktemp("stack")) as started:
        started.wait_for_value("ticker:bitcoin")
        yield started


@pytest.fixture
def small_queue_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose gateway gives each client the smallest queue (MP_WS_QUEUE_BYTES=16384),
    so a reader that stalls is closed with 4008 after a few hundred KB."""
    with running_stack(tmp_path_factory.mktemp("stack"), env=SMALL_QUEUE) as started:
        started.wait_for_value("ticker:bitcoin")
        yield started
