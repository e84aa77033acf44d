"""`python -m marketpulse_ingestor`: wire settings, logging and the service together."""

from __future__ import annotations

import asyncio
from functools import partial

from marketpulse_common.lifecycle import run_until_signalled, settings_or_exit
from marketpulse_common.logs import configure_logging, get_logger, register_settings_secrets
from marketpulse_common.metrics import start_metrics_endpoint
from marketpulse_ingestor.coingecko.source import check_timeframes
from marketpulse_ingestor.errors import ConfigurationError
from marketpulse_ingestor.service import SERVICE, run


def main() -> None:
    settings = settings_or_exit()
    configure_logging(service=SERVICE, log_format=settings.log_format, level=settings.log_level)
    register_settings_secrets(settings)
    if settings.source == "coingecko":
        try:
            check_timeframes(settings)  # before any connection: a bad setting is one line
        except ConfigurationError as e:
            get_logger(__name__).error(str(e))
            raise SystemExit(2) from None
    start_metrics_endpoint(settings, SERVICE)
    asyncio.run(run_until_signalled(partial(run, settings)))


if __name__ == "__main__":
    main()
