"""The command line every benchmark script shares, and where its report goes.

Each `bench_*.py` takes `--quick` (a short run, for smoke tests) and `--markdown PATH` (append
the report there; run_all.py collects those into BENCHMARKS.md), and prints its report.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def bench_parser(
    description: str | None, *, quick_help: str = "short run, for a smoke test", **kwargs: object
) -> argparse.ArgumentParser:
    """An argument parser with the shared `--quick` and `--markdown` options."""
    parser = argparse.ArgumentParser(description=description, **kwargs)  # type: ignore[arg-type]
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--markdown", type=Path, help="append the report to this file")
    return parser


def publish(text: str, markdown: Path | None) -> None:
    """Print the report and append it to `markdown` when one was named."""
    print(text)
    if markdown is not None:
        with markdown.open("a") as out:
            out.write(text + "\n")
