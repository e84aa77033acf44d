"""A worker service's life: start it, run it until SIGINT/SIGTERM, stop it within a deadline.

`service_main` is the whole `python -m marketpulse_<service>` of the ingestor, compute and
sentiment: settings, logging, metrics, a Redis check, then the service until a signal. A
failure of the world around the service (a bad setting, Redis unreachable, a taken port)
ends it with one line naming the cause and a non-zero status (2 for a setting); anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, NoReturn

from marketpulse_common.connection import REDIS_ERRORS, create_redis
from marketpulse_common.errors import MarketpulseError, SettingsError
from marketpulse_common.logs import configure_logging, get_logger, register_settings_secrets
from marketpulse_common.metrics import start_metrics_endpoint
from marketpulse_common.settings import Settings, load_settings
from marketpulse_common.tracing import configure_tracing, shutdown_tracing

log = get_logger(__name__)

# Long enough for any one message or scheduled job to finish; short enough for orchestrators
# (docker stops with SIGKILL after 10 s by default).
DRAIN_TIMEOUT_S = 8.0
# Exit statuses: a setting the operator must change, or anything else that stopped the service.
EXIT_SETTINGS = 2
EXIT_FAILED = 1
# What the world around a service can do to it. Anything else escaping a service is a bug.
_OPERATIONAL = (*REDIS_ERRORS, OSError, MarketpulseError)

Work = Callable[[Settings, asyncio.Event], Coroutine[Any, Any, None]]


def settings_or_exit() -> Settings:
    """Load settings, or print the one-line reason and exit with status 2."""
    try:
        return load_settings()
    except SettingsError as e:
        print(f"marketpulse: {e}", file=sys.stderr)
        raise SystemExit(EXIT_SETTINGS) from None


def service_main(
    service: str, work: Work, *, check: Callable[[Settings], None] | None = None
) -> None:
    """Run `work(settings, stop)` as the process `service` until a signal.

    `check` refuses, before any connection, settings the service cannot work with; it raises
    a MarketpulseError whose message names the variable.
    """
    settings = settings_or_exit()
    configure_logging(service=service, log_format=settings.log_format, level=settings.log_level)
    register_settings_secrets(settings)
    if check is not None:
        try:
            check(settings)
        except MarketpulseError as e:
            _exit(EXIT_SETTINGS, str(e))
    try:
        start_metrics_endpoint(settings, service)
    except OSError as e:
        where = f"{settings.metrics_host}:{settings.metrics_port}"
        _exit(EXIT_FAILED, f"metrics endpoint {where} unavailable: {describe(e)}")
    configure_tracing(service)
    try:
        asyncio.run(_checked_run(settings, work))
    except KeyboardInterrupt:  # before the signal handlers were installed: nothing to drain
        raise SystemExit(130) from None
    except BaseException as e:
        cause = operational_cause(e)
        if cause is None:
            raise
        _exit(EXIT_FAILED, f"{service} stopped: {describe(cause)}")
    finally:
        shutdown_tracing()


async def _checked_run(settings: Settings, work: Work) -> None:
    try:
        await redis_reachable(settings.redis_dsn, cluster=settings.redis_cluster)
    except REDIS_ERRORS as e:
        _exit(EXIT_FAILED, f"redis unavailable at start: {describe(e)}")
    await run_until_signalled(partial(work, settings))


async def redis_reachable(url: str, *, cluster: bool = False) -> None:
    """PING Redis once (with the client's retries); RedisError when it does not answer."""
    client = create_redis(url, client_name="startup-check", cluster=cluster)
    try:
        await client.ping()
    finally:
        await client.aclose()


def operational_cause(error: BaseException) -> BaseException | None:
    """The failure to name when `error` (or every error a task group raised) is operational;
    None when any part of it is a bug."""
    if isinstance(error, BaseExceptionGroup):
        causes = [operational_cause(e) for e in error.exceptions]
        return causes[0] if all(causes) else None
    return error if isinstance(error, _OPERATIONAL) else None


def describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _exit(status: int, line: str) -> NoReturn:
    log.error(line)
    raise SystemExit(status)


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
