"""`make run`: embedded Redis (when MP_REDIS_URL is unset) plus the four services as children.

Each child's output is prefixed with its name. Children run in their own sessions so that
Ctrl-C reaches only this supervisor (on a terminal it also takes the foreground from make, see
foreground.py), which then stops them in order: services first (SIGTERM, drain, SIGKILL after
a grace period), Redis last so nothing in flight is lost. If a service dies on its own,
everything stops and the exit status says so: a half-running product is worse than none.

The embedded Redis keeps each source's data apart (`<data-dir>/redis/<source>/`). While it
runs, its URL is in `<data-dir>/redis.url`, for tools such as the gateway's keys command.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from marketpulse_common.lifecycle import settings_or_exit
from marketpulse_common.logs import configure_logging, get_logger
from marketpulse_dev.embedded_redis import RedisServer, RedisServerError
from marketpulse_dev.foreground import terminal_foreground

SERVICES = ("ingestor", "compute", "sentiment", "gateway")
# Longer than a service's own drain timeout (8 s), so a clean drain is never cut short.
STOP_GRACE_S = 12.0
NAME_WIDTH = max(map(len, SERVICES))

log = get_logger("supervisor")


async def _pipe_output(name: str, stream: asyncio.StreamReader) -> None:
    prefix = f"{name:<{NAME_WIDTH}} | ".encode()
    while line := await stream.readline():
        sys.stdout.buffer.write(prefix + line)
        sys.stdout.buffer.flush()


async def _start(name: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"marketpulse_{name}",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )


async def _stop(name: str, proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
    except TimeoutError:
        log.warning("service did not stop in time; killing", service=name)
        proc.kill()
        await proc.wait()


def _child_env(redis_url: str) -> dict[str, str]:
    env = dict(os.environ, MP_REDIS_URL=redis_url, PYTHONUNBUFFERED="1")
    if "MP_LOG_FORMAT" not in env and sys.stdout.isatty():
        env["MP_LOG_FORMAT"] = "console"  # children write to a pipe, but a person reads it
    return env


async def supervise(redis_url: str, services: list[str]) -> int:
    env = _child_env(redis_url)
    procs = {name: await _start(name, env) for name in services}
    pipes = [asyncio.create_task(_pipe_output(n, p.stdout)) for n, p in procs.items() if p.stdout]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    waits = {asyncio.create_task(p.wait()): n for n, p in procs.items()}
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({*waits, stopper}, return_when=asyncio.FIRST_COMPLETED)
    died = [waits[t] for t in done if t in waits]
    if died:
        log.error("a service exited; stopping all", service=died[0], code=procs[died[0]].returncode)
    else:
        log.info("stopping services")
    await asyncio.gather(*(_stop(n, p) for n, p in procs.items()))
    stopper.cancel()
    await asyncio.gather(*pipes, return_exceptions=True)
    return 1 if died else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="marketpulse-run", description=__doc__)
    parser.add_argument("--services", default=",".join(SERVICES), help="comma list to start")
    parser.add_argument("--data-dir", default=".run", type=Path, help="embedded Redis data")
    args = parser.parse_args(argv)
    services = [s for s in args.services.split(",") if s]
    unknown = set(services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown services: {', '.join(sorted(unknown))}")
    settings = settings_or_exit()  # fail here, once, before starting anything
    configure_logging(service="run", log_format=settings.log_format, level=settings.log_level)
    with terminal_foreground():
        if settings.redis_url:
            code = asyncio.run(supervise(settings.redis_url, services))
        else:
            # One Redis per source: a `make run` after a `make demo` must not serve the
            # simulated market's prices as if they came from CoinGecko.
            code = _with_embedded_redis(args.data_dir.resolve(), settings.source, services)
    raise SystemExit(code)


def _with_embedded_redis(data_dir: Path, source: str, services: list[str]) -> int:
    url_file = data_dir / "redis.url"
    try:
        with RedisServer(data_dir / "redis" / source, appendonly=True) as redis:
            log.info("embedded redis started", url=redis.url, data_dir=str(redis.data_dir))
            url_file.write_text(redis.url + "\n")
            try:
                return asyncio.run(supervise(redis.url, services))
            finally:
                url_file.unlink(missing_ok=True)
    except RedisServerError as e:
        print(f"marketpulse: embedded Redis did not start: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    main()
