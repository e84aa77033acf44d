"""`python -m marketpulse_sentiment`: wire settings, logging, secrets and metrics, then run."""

from __future__ import annotations

import asyncio
from functools import partial

from marketpulse_common.lifecycle import run_until_signalled, settings_or_exit
from marketpulse_common.logs import configure_logging, register_settings_secrets
from marketpulse_common.metrics import start_metrics_endpoint
from marketpulse_sentiment.service import SERVICE, run


def main() -> None:
    settings = settings_or_exit()
    configure_logging(service=SERVICE, log_format=settings.log_format, level=settings.log_level)
    register_settings_secrets(settings)
    start_metrics_endpoint(settings, SERVICE)
    asyncio.run(run_until_signalled(partial(run, settings)))


if __name__ == "__main__":
    main()
