"""The dashboard's performance budget (issue 16), in headless Chromium against the product.

1. size: the built JavaScript, gzipped (budget ≤ 250 KB);
2. first paint: first contentful paint of `/` and the time until the first price is on the
   page (REST `/snapshot` painted), median over cold loads (a fresh browser context each),
   beside the FCP of a minimal HTML page in the same browser (the baseline); budget ≤ 1 s;
3. WebSocket → DOM: for each `ticker:bitcoin` frame, the time from its `message` event to the
   price's DOM mutation, and whether the mutation came before the next animation frame
   (budget: every update within one frame);
4. memory: JS heap (after a forced GC, over CDP) and candles held by the chart while the
   market runs at 600×; the full run covers an hour of 60× time (60 market hours: 720 5-minute
   candles, past the chart's bound), the quick run a twelfth of it, and says so. Bounded means
   the heap at the end is within 25% of the heap half way.

The product runs as processes (tests/system/stack.py); the browser is the system's Chromium
(MP_CHROMIUM overrides). Without one, or without a built dashboard, the section says so.

    .venv/bin/python bench/bench_dashboard.py [--quick] [--markdown PATH]
"""

from __future__ import annotations

import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cli import bench_parser, publish

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/system: the stack and the browser helpers

from tests.system.browser import DASHBOARD_INDEX, chromium_path, launch  # noqa: E402
from tests.system.stack import running_stack  # noqa: E402

TITLE = "## Dashboard: bundle size, first paint, WebSocket → DOM, memory (Chromium)"
BUDGET_GZIP_KB = 250
BUDGET_FCP_MS = 1000
HEAP_GROWTH_LIMIT = 1.25
SIM_SPEED = 600
FULL_MARKET_HOURS = 60  # an hour of wall time at 60×
QUICK_SHARE = 12  # a quick run covers 1/12 of it (30 s of wall time)

# Records each ticker frame's arrival and the price element's mutations, then the next
# animation frame after each arrival: was the DOM already updated when it was painted?
PROBE = """
window.__bench = { frames: [], mutations: [] };
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (event) => {
      const data = event.data;
      if (typeof data !== "string" || !/"channel":\\s*"ticker:bitcoin"/.test(data)) return;
      const at = performance.now();
      const seen = window.__bench.mutations.length;
      requestAnimationFrame(() => {
        const dom = window.__bench.mutations[seen];
        const frame = performance.now();
        window.__bench.frames.push({ at, frame, dom: dom === undefined ? null : dom });
      });
    });
  }
};
"""
OBSERVE = """
() => {
  const target = document.querySelector('.asset[data-asset="bitcoin"] .price');
  new MutationObserver(() => window.__bench.mutations.push(performance.now()))
    .observe(target, { childList: true, characterData: true, subtree: true });
}
"""


def bundle_size() -> dict[str, float]:
    files = sorted((DASHBOARD_INDEX.parent / "ui").glob("*.js"))
    raw = sum(f.stat().st_size for f in files)
    packed = sum(len(gzip.compress(f.read_bytes(), 9)) for f in files)
    return {"files": len(files), "raw_kb": raw / 1024, "gzip_kb": packed / 1024}


def first_paint(browser: Any, base_url: str, loads: int) -> dict[str, float]:
    fcp, price, blank = [], [], []
    for _ in range(loads):
        context = browser.new_context()
        page = context.new_page()
        page.goto(base_url + "/")
        page.wait_for_function(
            "() => /[0-9]/.test(document.querySelector('.asset .price')?.textContent ?? '')"
        )
        price.append(page.evaluate(_FIRST_PRICE))
        fcp.append(page.evaluate(_FCP))
        blank_page = context.new_page()
        blank_page.goto("data:text/html,<!doctype html><p>marketpulse</p>")
        blank.append(blank_page.evaluate(_FCP))
        context.close()
    return {
        "fcp_ms": statistics.median(fcp),
        "price_ms": statistics.median(price),
        "blank_fcp_ms": statistics.median(blank),
        "loads": loads,
    }


# dashboard/src/main.ts marks the moment the first price is written into the page.
_FIRST_PRICE = '() => performance.getEntriesByName("marketpulse:first-price")[0].startTime'
_FCP = """
() => new Promise((resolve) => {
  const found = () => performance.getEntriesByName("first-contentful-paint")[0];
  if (found()) return resolve(found().startTime);
  new PerformanceObserver(() => found() && resolve(found().startTime))
    .observe({ type: "paint", buffered: true });
})
"""


def ws_to_dom(page: Any, seconds: float) -> dict[str, float]:
    page.evaluate(OBSERVE)
    page.evaluate("() => { window.__bench.frames = []; }")
    time.sleep(seconds)
    frames = page.evaluate("() => window.__bench.frames")
    measured = [f for f in frames if f["dom"] is not None]
    latencies = sorted(f["dom"] - f["at"] for f in measured)
    in_frame = sum(1 for f in measured if f["dom"] <= f["frame"])
    if not latencies:
        raise SystemExit("no ticker frame reached the DOM")
    return {
        "frames": len(frames),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "in_frame": in_frame / len(frames),
    }


def memory(page: Any, market_hours: float) -> dict[str, Any]:
    cdp = page.context.new_cdp_session(page)

    def sample() -> dict[str, float]:
        cdp.send("HeapProfiler.collectGarbage")
        used = cdp.send("Runtime.getHeapUsage")["usedSize"]
        candles = page.evaluate("() => window.__marketpulse.chart.candles")
        return {"heap_mb": used / 2**20, "candles": candles}

    wall = market_hours * 3600 / SIM_SPEED
    start = sample()
    time.sleep(wall / 2)
    middle = sample()
    time.sleep(wall / 2)
    end = sample()
    return {
        "market_hours": market_hours,
        "wall_s": wall,
        "start": start,
        "middle": middle,
        "end": end,
        "growth": end["heap_mb"] / middle["heap_mb"],
    }


def measure(quick: bool) -> dict[str, Any]:
    chromium = chromium_path()
    assert chromium is not None
    from playwright.sync_api import sync_playwright

    result: dict[str, Any] = {"size": bundle_size(), "quick": quick}
    with (
        tempfile.TemporaryDirectory() as workdir,
        running_stack(Path(workdir), env={"MP_SIM_SPEED": str(SIM_SPEED)}) as stack,
        sync_playwright() as playwright,
    ):
        stack.wait_for_value("ticker:bitcoin")
        stack.wait_for_value("candles:bitcoin:5m")
        browser = launch(playwright, chromium)
        try:
            result["paint"] = first_paint(browser, stack.base_url, 3 if quick else 9)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.add_init_script(PROBE)
            page.goto(stack.base_url + "/#bitcoin/5m")
            page.wait_for_function("() => window.__marketpulse?.chart.candles > 0")
            result["ws"] = ws_to_dom(page, 8 if quick else 60)
            result["memory"] = memory(page, FULL_MARKET_HOURS / (QUICK_SHARE if quick else 1))
        finally:
            browser.close()
    return result


def table(r: dict[str, Any]) -> str:
    size, paint, ws, mem = r["size"], r["paint"], r["ws"], r["memory"]
    ok = {True: "✅", False: "❌"}
    bounded = mem["growth"] <= HEAP_GROWTH_LIMIT
    run = (
        f"a quick run: {mem['market_hours']:.0f} market hours, 1/{QUICK_SHARE} of the full run"
        if r["quick"]
        else f"{mem['market_hours']:.0f} market hours (an hour of 60× time)"
    )
    return "\n".join(
        [
            TITLE + (" (quick run)" if r["quick"] else ""),
            "",
            "| measure | value | baseline | budget |",
            "|---|---:|---:|---|",
            f"| built JS, gzipped ({size['files']} file, {size['raw_kb']:.0f} KB raw) "
            f"| {size['gzip_kb']:.1f} KB | | ≤ {BUDGET_GZIP_KB} KB "
            f"{ok[size['gzip_kb'] <= BUDGET_GZIP_KB]} |",
            f"| first contentful paint of `/` (median of {paint['loads']} cold loads) "
            f"| {paint['fcp_ms']:.0f} ms | {paint['blank_fcp_ms']:.0f} ms (minimal page), "
            f"{paint['fcp_ms'] / paint['blank_fcp_ms']:.2f}× | ≤ {BUDGET_FCP_MS} ms "
            f"{ok[paint['fcp_ms'] <= BUDGET_FCP_MS]} |",
            f"| first price on the page (REST snapshot painted) | {paint['price_ms']:.0f} ms | | |",
            f"| ticker frame → price in the DOM, p50 / p99 ({ws['frames']} frames) "
            f"| {ws['p50_ms']:.2f} / {ws['p99_ms']:.2f} ms | | |",
            f"| updates in the DOM before the next animation frame | {100 * ws['in_frame']:.0f}% "
            f"| | 100% {ok[ws['in_frame'] >= 1.0]} |",
            f"| JS heap after GC: start / half way / end | {mem['start']['heap_mb']:.1f} / "
            f"{mem['middle']['heap_mb']:.1f} / {mem['end']['heap_mb']:.1f} MB "
            f"| end / half way {mem['growth']:.2f}× | ≤ {HEAP_GROWTH_LIMIT}× {ok[bounded]} |",
            f"| candles held by the chart: start / half way / end | {mem['start']['candles']} / "
            f"{mem['middle']['candles']} / {mem['end']['candles']} | | bounded (600 + 150) |",
            "",
            f"Memory over {run}, {mem['wall_s']:.0f} s of wall time at {SIM_SPEED}×. "
            "Chromium headless, loopback gateway (tests/system/stack.py).",
            "",
        ]
    )


def main() -> None:
    parser = bench_parser(__doc__)
    args = parser.parse_args()
    if chromium_path() is None:
        text = f"{TITLE}\n\nNot measured: no Chromium (apt-get install chromium).\n"
    elif not DASHBOARD_INDEX.is_file():
        text = f"{TITLE}\n\nNot measured: the dashboard is not built (make install).\n"
    else:
        text = table(measure(args.quick))
    publish(text, args.markdown)


if __name__ == "__main__":
    main()
