"""`python -m marketpulse_ingestor`: wire settings, logging and the service together."""

from __future__ import annotations

import asyncio
from functools import partial
from urllib.parse import urlsplit

from marketpulse_common.lifecycle import run_until_signalled, settings_or_exit
from marketpulse_common.logs import configure_logging, get_logger, register_secret
from marketpulse_ingestor.service import SERVICE, run


def main() -> None:
    settings = settings_or_exit()
    configure_logging(service=SERVICE, log_format=settings.log_format, level=settings.log_level)
    register_secret(urlsplit(settings.redis_dsn).password)
    if settings.coingecko_api_key is not None:
        register_secret(settings.coingecko_api_key.get_secret_value())
    if settings.source == "coingecko":
        # Stage 2 (issue 3) replaces this with the CoinGecko source.
        get_logger(__name__).error(
            "MP_SOURCE=coingecko is not implemented yet; set MP_SOURCE=simulated"
        )
        raise SystemExit(2)
    asyncio.run(run_until_signalled(partial(run, settings)))


if __name__ == "__main__":
    main()
