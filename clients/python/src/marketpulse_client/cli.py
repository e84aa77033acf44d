"""`marketpulse`: the gateway from a terminal.

    marketpulse watch bitcoin --tf 1h        a live table (price, indicators, forecast,
                                             sentiment), updated in place
    marketpulse snapshot bitcoin --tf 1h --json

`--url` defaults to $MARKETPULSE_URL, else http://127.0.0.1:8000; `--api-key` defaults to
$MARKETPULSE_API_KEY.
Errors are one line on stderr and a non-zero exit status (1; 2 for a bad command line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from typing import Any

from marketpulse_client.client import DEFAULT_URL, MarketPulse
from marketpulse_client.errors import MarketPulseError, Unavailable
from marketpulse_client.liveness import ConnectionState
from marketpulse_client.watch_view import Row, channels, rows

API_KEY_ENV = "MARKETPULSE_API_KEY"
URL_ENV = "MARKETPULSE_URL"
REFRESH_PER_S = 4


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get(URL_ENV, DEFAULT_URL),
        help=f"gateway base URL (${URL_ENV}, else {DEFAULT_URL})",
    )
    common.add_argument(
        "--api-key", default=os.environ.get(API_KEY_ENV), help=f"API key (${API_KEY_ENV})"
    )
    common.add_argument("--tf", default="1h", help="timeframe: 5m, 1h, 4h, 1d (1h)")
    p = argparse.ArgumentParser(prog="marketpulse", description="The marketpulse gateway.")
    sub = p.add_subparsers(dest="command", required=True)
    watch = sub.add_parser("watch", parents=[common], help="a live table of one asset")
    watch.add_argument("asset")
    snap = sub.add_parser("snapshot", parents=[common], help="everything about one asset, once")
    snap.add_argument("asset")
    snap.add_argument("--json", action="store_true", help="print the response body as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "watch":
            return asyncio.run(watch(args.url, args.api_key, args.asset, args.tf))
        return asyncio.run(snapshot(args.url, args.api_key, args.asset, args.tf, args.json))
    except KeyboardInterrupt:
        return 130
    except MarketPulseError as e:
        print(f"marketpulse: {e}", file=sys.stderr)
        return 1


async def snapshot(url: str, api_key: str | None, asset: str, tf: str, as_json: bool) -> int:
    async with MarketPulse(url, api_key=api_key) as mp:
        envelope = await mp.snapshot(asset, tf)
    if as_json:
        print(envelope.model_dump_json(indent=2))
        return 0
    values = {part: envelope.data.get(part) for part in ("ticker", "indicators", "forecast",
                                                          "sentiment")}  # fmt: skip
    for row in rows(values, ConnectionState.LIVE, time.time()):
        print(f"{row.label:<16} {row.value:<48} {row.age}")
    if envelope.meta.stale:
        print("(some parts are stale: the gateway serves its last known values)")
    return 0


async def watch(url: str, api_key: str | None, asset: str, tf: str) -> int:
    try:
        from rich.live import Live
    except ImportError:
        raise MarketPulseError("watch needs rich: pip install 'marketpulse-client[cli]'") from None
    async with MarketPulse(url, api_key=api_key) as mp:
        # Fail fast with the gateway's own words on a bad asset, timeframe or key; a 503
        # (nothing cached yet) is no reason not to watch: the stream will bring it.
        with contextlib.suppress(Unavailable):
            await mp.snapshot(asset, tf, limit=1)
        parts = channels(asset, tf)
        subs = {part: mp.subscribe(channel) for part, channel in parts.items()}
        with Live(_table(asset, tf, [], mp.state), refresh_per_second=REFRESH_PER_S) as live:
            while True:
                if mp.error is not None:
                    raise mp.error
                failed = next((s.error for s in subs.values() if s.error is not None), None)
                if failed is not None:
                    raise failed
                values = {part: sub.value for part, sub in subs.items()}
                live.update(_table(asset, tf, rows(values, mp.state, time.time()), mp.state))
                await asyncio.sleep(1 / REFRESH_PER_S)


_STYLE = {"live": "green", "waiting": "dim", "stale": "yellow", "reconnecting": "red",
          "connecting": "yellow", "closed": "red"}  # fmt: skip


def _table(asset: str, tf: str, body: list[Row], state: ConnectionState) -> Any:
    from rich.table import Table

    colour = _STYLE.get(state.value, "white")
    table = Table(title=f"{asset} · {tf} · [{colour}]{state.value}[/]", title_justify="left")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_column("age", justify="right")
    table.add_column("state")
    for row in body:
        table.add_row(row.label, row.value, row.age, f"[{_STYLE.get(row.status, 'white')}]"
                      f"{row.status}[/]")  # fmt: skip
    return table


if __name__ == "__main__":
    raise SystemExit(main())
