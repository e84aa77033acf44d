"""`python -m marketpulse_gateway`: serve the gateway with uvicorn on MP_GATEWAY_HOST/PORT.

`python -m marketpulse_gateway keys create|revoke|list` manages API keys instead (keys_cli).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import NoReturn
from urllib.parse import urlsplit

import uvicorn

from marketpulse_common.lifecycle import DRAIN_TIMEOUT_S, settings_or_exit
from marketpulse_common.logs import configure_logging, register_secret
from marketpulse_common.settings import Settings
from marketpulse_common.tracing import configure_tracing, shutdown_tracing


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["keys"]:
        # Imported here (like the app in serve) so key commands do not load the web stack.
        from marketpulse_gateway.access import keys_cli

        raise SystemExit(keys_cli.main(args[1:]))
    if args:
        raise SystemExit("usage: python -m marketpulse_gateway [keys {create,revoke,list} …]")
    serve()


def serve() -> None:
    settings = settings_or_exit()
    configure_logging(service="gateway", log_format=settings.log_format, level=settings.log_level)
    register_secret(urlsplit(settings.redis_dsn).password)
    configure_tracing("gateway")
    try:
        _serve(settings)
    finally:
        shutdown_tracing()


def _serve(settings: Settings) -> None:
    from marketpulse_gateway.app import create_app
    from marketpulse_gateway.stream.server import ws_server_options

    # uvicorn drains on SIGTERM and then re-raises the signal to the handler it found, so the
    # process would die of it (status 143, "killed" to a supervisor) after a clean shutdown.
    # Exit 0 instead, as the other services do after their drain.
    signal.signal(signal.SIGTERM, _exit_after_drain)
    uvicorn.run(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        # Keep the structlog setup above: uvicorn's loggers propagate to it.
        log_config=None,
        # One line per request would dominate the logs at dashboard rates; errors still log.
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(DRAIN_TIMEOUT_S),
        # The WebSocket protocol with the stream's direct socket and message size limit.
        **ws_server_options(settings),
    )


def _exit_after_drain(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(0)


if __name__ == "__main__":
    main()
