"""`python -m marketpulse_ingestor`: the ingestor service, started by the shared worker main."""

from __future__ import annotations

from marketpulse_common.lifecycle import service_main
from marketpulse_common.settings import Settings
from marketpulse_ingestor.coingecko.source import check_timeframes
from marketpulse_ingestor.service import SERVICE, run


def refuse_what_the_source_cannot_do(settings: Settings) -> None:
    """ConfigurationError (one line naming the variable) before any connection."""
    if settings.source == "coingecko":
        check_timeframes(settings)


def main() -> None:
    service_main(SERVICE, run, check=refuse_what_the_source_cannot_do)


if __name__ == "__main__":
    main()
