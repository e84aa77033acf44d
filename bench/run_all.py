"""Run every `bench/bench_*.py` and collect their markdown tables into one report.

Each benchmark is a standalone script that measures the product against a baseline in the
same run and appends a markdown section to the file named by `--markdown`. Ratios, not
absolute numbers, are what travel between machines.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    system = f"{platform.system()} {platform.release()}"
    return f"{system}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def run_one(script: Path, quick: bool) -> tuple[str, bool, float]:
    with tempfile.NamedTemporaryFile("r", suffix=".md") as out:
        args = [sys.executable, str(script), "--markdown", out.name]
        if quick:
            args.append("--quick")
        started = time.monotonic()
        done = subprocess.run(args, check=False, cwd=BENCH_DIR.parent)
        elapsed = time.monotonic() - started
        body = Path(out.name).read_text()
    ok = done.returncode == 0
    if not ok:
        body += f"\n**{script.name} failed with exit status {done.returncode}.**\n"
    return body, ok, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--output", type=Path, help="report file (default: BENCHMARKS.md; stdout with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("only", nargs="*", help="benchmark names to run (default: all)")
    args = parser.parse_args()
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(name in s.stem for name in args.only)]
    sections = [
        "# Benchmarks\n",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {_machine()}.",
        "Each number is a ratio against a baseline measured in the same run. "
        "Regenerate with `make bench`.\n",
    ]
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        body, ok, elapsed = run_one(script, args.quick)
        sections.append(body.strip() + f"\n\n_{script.name}: {elapsed:.0f} s_\n")
        if not ok:
            failed.append(script.name)
    report = "\n".join(sections) + "\n"
    # A quick run's numbers are too noisy to keep: they replace BENCHMARKS.md only on request.
    output = args.output or (None if args.quick else Path("BENCHMARKS.md"))
    if output is None:
        print(report)
    else:
        output.write_text(report)
        print(f"wrote {output}")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
