"""`python -m marketpulse_gateway`: serve the gateway with uvicorn on MP_GATEWAY_HOST/PORT."""

from __future__ import annotations

from urllib.parse import urlsplit

import uvicorn

from marketpulse_common.lifecycle import DRAIN_TIMEOUT_S, settings_or_exit
from marketpulse_common.logs import configure_logging, register_secret
from marketpulse_gateway.app import create_app


def main() -> None:
    settings = settings_or_exit()
    configure_logging(service="gateway", log_format=settings.log_format, level=settings.log_level)
    register_secret(urlsplit(settings.redis_dsn).password)
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
    )


if __name__ == "__main__":
    main()
