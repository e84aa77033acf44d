"""The TypeScript client's delta throughput in Node, beside a plain JSON.parse loop.

Runs bench/bench_client_js.mjs (see there for what is measured) against the client built
from clients/js, installing and building it first when needed, and writes its table.
Target: ≥ 100,000 deltas/s (issue 15), marked in the table as the other benchmarks mark
theirs. Without node/npm on the machine the section says so instead.

    .venv/bin/python bench/bench_client_js.py [--quick] [--markdown PATH]
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from cli import bench_parser, publish

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "clients/js"
SCRIPT = ROOT / "bench/bench_client_js.mjs"
TARGET_PER_S = 100_000
TITLE = "## TypeScript client: deltas applied per second (Node)"


def prepare(npm: str) -> None:
    """node_modules from the lockfile when missing, and dist/ built from the current sources."""
    if not (PACKAGE / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PACKAGE, check=True)
    subprocess.run([npm, "run", "--silent", "build"], cwd=PACKAGE, check=True)


def measure(node: str, quick: bool) -> dict[str, Any]:
    args = [node, str(SCRIPT), *(["--quick"] if quick else [])]
    done = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def table(r: dict[str, Any], quick: bool) -> str:
    met = r["client_per_s"] >= TARGET_PER_S
    return "\n".join(
        [
            TITLE + (" (quick run)" if quick else ""),
            "",
            "| path | deltas/s | vs JSON.parse | target |",
            "|---|---:|---:|---|",
            f"| `JSON.parse` of each frame (baseline) | {r['baseline_per_s']:,.0f} | 1.00× | |",
            f"| client: parse, order/gap check, merge, listener | {r['client_per_s']:,.0f} "
            f"| **{r['ratio']:.2f}×** | ≥ {TARGET_PER_S:,}/s {'✅' if met else '❌'} |",
            "",
            f"{r['frames']:,} chained deltas of ticker, candles, indicators and forecast "
            f"channels (mean {r['mean_frame_bytes']} bytes), best of {r['rounds']} alternating "
            f"rounds, Node {r['node']}.",
            "",
        ]
    )


def main() -> None:
    parser = bench_parser(__doc__)
    args = parser.parse_args()
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        text = f"{TITLE}\n\nNot measured: node and npm are not on PATH.\n"
    else:
        prepare(npm)
        text = table(measure(node, args.quick), args.quick)
    publish(text, args.markdown)


if __name__ == "__main__":
    main()
