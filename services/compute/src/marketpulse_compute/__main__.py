"""`python -m marketpulse_compute`: the compute service, started by the shared worker main."""

from __future__ import annotations

from marketpulse_common.lifecycle import service_main
from marketpulse_compute.service import SERVICE, run


def main() -> None:
    service_main(SERVICE, run)


if __name__ == "__main__":
    main()
