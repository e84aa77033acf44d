"""Run a service until SIGINT/SIGTERM, then let in-flight work finish within a deadline."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from marketpulse_common.errors import SettingsError
from marketpulse_common.logs import get_logger
from marketpulse_common.settings import Settings, load_settings

log = get_logger(__name__)

# Long enough for any one message or scheduled job to finish; short enough for orchestrators
# (docker stops with SIGKILL after 10 s by default).
DRAIN_TIMEOUT_S = 8.0


def settings_or_exit() -> Settings:
    """Load settings, or print the one-line reason and exit with status 2."""
    try:
        return load_settings()
    except SettingsError as e:
        print(f"marketpulse: {e}", file=sys.stderr)
        raise SystemExit(2) from None


async def run_until_signalled(
    work: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    *,
    drain_timeout: float = DRAIN_TIMEOUT_S,
) -> None:
    """Run `work(stop)`; on a signal set `stop`, wait up to `drain_timeout`, then cancel."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(work(stop))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        log.info("stopping; draining in-flight work", timeout_s=drain_timeout)
        try:
            await asyncio.wait_for(task, drain_timeout)
        except TimeoutError:
            log.warning("drain timed out; cancelled in-flight work")
    stopper.cancel()
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
