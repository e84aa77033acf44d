"""`python -m marketpulse_sentiment`: the sentiment service, started by the shared worker main."""

from __future__ import annotations

from marketpulse_common.lifecycle import service_main
from marketpulse_sentiment.service import SERVICE, run


def main() -> None:
    service_main(SERVICE, run)


if __name__ == "__main__":
    main()
