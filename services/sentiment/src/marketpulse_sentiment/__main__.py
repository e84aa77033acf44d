"""`python -m marketpulse_sentiment`: wire settings, logging and secrets, then run the service."""

from __future__ import annotations

import asyncio
from functools import partial
from urllib.parse import urlsplit

from marketpulse_common.lifecycle import run_until_signalled, settings_or_exit
from marketpulse_common.logs import configure_logging, register_secret
from marketpulse_common.settings import Settings
from marketpulse_sentiment.service import SERVICE, run


def register_secrets(settings: Settings) -> None:
    if settings.anthropic_api_key is not None:
        register_secret(settings.anthropic_api_key.get_secret_value())
    register_secret(urlsplit(settings.redis_dsn).password)


def main() -> None:
    settings = settings_or_exit()
    configure_logging(service=SERVICE, log_format=settings.log_format, level=settings.log_level)
    register_secrets(settings)
    asyncio.run(run_until_signalled(partial(run, settings)))


if __name__ == "__main__":
    main()
