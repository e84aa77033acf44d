"""The dashboard in headless Chromium against the real product (tests/system/stack.py):
every tracked asset, live prices without a reload, the chart with candles and overlays, the
forecast's explanation and the reliability diagram, a timeframe switch, and a gateway crash
and restart that the page rides out without a reload and without a missed seq.

Screenshots of each run go to test-artifacts/dashboard/ (git-ignored; the path is printed).
Skipped, with one line, when there is no Chromium or no built dashboard.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from marketpulse_common.events import Sentiment
from marketpulse_common.keys import Channel
from marketpulse_common.publisher import Publisher
from marketpulse_gateway.access.key_store import ApiKeyStore
from tests.system.browser import (
    DASHBOARD_INDEX,
    NO_CHROMIUM,
    NOT_BUILT,
    REPO,
    ConsoleLog,
    chromium_path,
    launch,
)
from tests.system.conftest import Product
from tests.system.stack import Stack, running_stack
from tests.waiting import eventually_sync

pytestmark = pytest.mark.system

CHROMIUM = chromium_path()
ASSETS = ["bitcoin", "ethereum"]
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
# What Chromium itself logs while the gateway is down: allowed during the outage only.
NETWORK_ERROR = re.compile(r"ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|WebSocket connection to")
if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)
if not DASHBOARD_INDEX.is_file():
    pytest.skip(NOT_BUILT, allow_module_level=True)

from playwright.sync_api import Page, sync_playwright  # noqa: E402  (only with a browser)


def publish_sentiment(stack: Stack, asset: str) -> None:
    """What the sentiment service would publish (none runs in the stack)."""

    async def publish() -> None:
        client = stack.async_client("test-sentiment")
        try:
            await Publisher(client, source="test").publish(
                Channel.parse(f"sentiment:{asset}"),
                Sentiment(
                    asset=asset,
                    label="bullish",
                    score=0.42,
                    confidence=0.7,
                    summary="Spot ETF inflows keep rising while funding stays neutral.",
                    drivers=["ETF inflows", "neutral funding rates", "exchange outflows"],
                    provider="rules",
                    model=None,
                    fallback=True,
                    input_hash="test",
                    created_at=datetime.now(UTC),
                ),
            )
        finally:
            await client.aclose()

    asyncio.run(publish())


def has_evaluation(stack: Stack, tf: str) -> bool:
    url = f"{stack.base_url}/v1/assets/bitcoin/evaluation?tf={tf}"
    return httpx.get(url, timeout=5).status_code == 200


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("dashboard"), env={"MP_ASSETS": ",".join(ASSETS)}
    ) as running:
        for asset in ASSETS:
            running.wait_for_value(f"ticker:{asset}")
        running.wait_for_value("forecast:bitcoin:5m", timeout=90)
        eventually_sync(lambda: has_evaluation(running, "5m"), timeout=90, what="an evaluation")
        publish_sentiment(running, "bitcoin")
        yield running


def seq_key(seq: str) -> tuple[int, int]:
    """A stream position `<ms>-<n>` as numbers, for ordering."""
    ms, n = seq.split("-")
    return int(ms), int(n)


SEQ_AT_LEAST = (
    "((a, b) => { const [a1, a2] = a.split('-').map(Number), [b1, b2] = b.split('-').map(Number);"
    " return a1 > b1 || (a1 === b1 && a2 >= b2); })"
)


def view(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate("() => window.__marketpulse")
    return found


def wait_view(page: Page, condition: str, timeout_s: float = 30) -> None:
    """Wait for a JS condition on `v` (the page's read-only counters)."""
    page.wait_for_function(
        f"() => {{ const v = window.__marketpulse; return v !== undefined && ({condition}); }}",
        timeout=timeout_s * 1000,
    )


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")


def test_dashboard_live_through_a_gateway_restart(stack: Stack) -> None:
    assert CHROMIUM is not None
    console = ConsoleLog()
    with sync_playwright() as playwright:
        browser = launch(playwright, CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            console.attach(page)
            page.goto(stack.base_url + "/")
            page.evaluate("() => { window.__sameDocument = true; }")

            # Every tracked asset, each with a price.
            tracked = [a["asset"] for a in httpx.get(f"{stack.base_url}/v1/assets").json()["data"]]
            assert sorted(tracked) == sorted(ASSETS)
            for asset in tracked:
                price = page.locator(f'.asset[data-asset="{asset}"] .price')
                page.wait_for_function(
                    "el => /[0-9]/.test(el.textContent)", arg=price.element_handle(), timeout=30_000
                )

            # A price changes without a reload.
            first = page.locator('.asset[data-asset="bitcoin"] .price').text_content()
            page.wait_for_function(
                "([sel, before]) => document.querySelector(sel).textContent !== before",
                arg=['.asset[data-asset="bitcoin"] .price', first],
                timeout=30_000,
            )
            wait_view(page, "v.priceUpdates >= 2 && v.state === 'live'")

            # The chart: candles and overlays, with the library's attribution.
            wait_view(page, "v.chart.candles >= 50 && v.chart.overlays >= 20")
            assert page.locator("#chart canvas").count() >= 3  # one per pane at least
            assert page.locator('#chart a[href*="tradingview"]').count() == 1
            # Live candles are appended.
            before = view(page)["chart"]["candles"]
            wait_view(page, f"v.chart.candles > {before}")

            # The forecast explanation and the evaluation's reliability diagram.
            page.wait_for_selector("[data-field=explanation] .contribution", timeout=30_000)
            assert page.locator("[data-field=explanation] .contribution").count() >= 3
            page.wait_for_selector("svg.reliability circle.bin", timeout=40_000)
            assert page.locator("[data-field=verdict]").text_content()
            assert "drift:" in (page.locator("[data-field=drift]").text_content() or "")
            # The sentiment card says where it came from, and that it is a fallback.
            page.wait_for_selector("#sentiment [data-field=provider]", timeout=30_000)
            assert page.locator("#sentiment [data-field=provider]").text_content() == "rules"
            assert page.locator("#sentiment [data-field=fallback]").count() == 1
            assert page.locator('[data-panel="forecast"]').get_attribute("data-state") == "live"
            shot(page, "1-live-5m")

            # Switch timeframe and asset without a reload.
            page.select_option("#tf", "1h")
            page.wait_for_function("() => location.hash === '#bitcoin/1h'")
            wait_view(page, "v.tf === '1h' && v.chart.candles > 0")
            page.locator('.asset[data-asset="ethereum"]').click()
            wait_view(page, "v.asset === 'ethereum' && v.chart.candles > 0")
            assert page.locator("#chart-title").text_content() == "ethereum · 1h"
            page.locator('.asset[data-asset="bitcoin"]').click()
            page.select_option("#tf", "5m")
            wait_view(page, "v.asset === 'bitcoin' && v.tf === '5m' && v.chart.candles >= 50")

            # The gateway crashes: the page says so on every panel, not just the badge.
            healthy = view(page)
            assert healthy["gaps"] == 0 and healthy["missed"] == 0
            outage_start = time.monotonic()
            stack.kill_gateway()
            wait_view(page, "v.state === 'reconnecting'")
            assert page.locator("#connection").get_attribute("data-state") == "reconnecting"
            for panel in ("chart", "forecast"):
                state = page.locator(f'[data-panel="{panel}"]').get_attribute("data-state")
                assert state == "reconnecting", panel
            assert "reconnecting" in (
                page.locator('.asset[data-asset="bitcoin"] .age').text_content() or ""
            )
            shot(page, "2-reconnecting")
            stack.start_gateway()
            wait_view(page, "v.state === 'live' && v.recovered >= 1", timeout_s=60)
            outage_end = time.monotonic()

            # Resumed, not restarted: no gap, no re-snapshot, every delta followed its seq.
            ticker = "ticker:bitcoin"
            seq_before = view(page)["lastSeq"][ticker]
            server = eventually_sync(
                lambda: (
                    (v := stack.server_value(ticker)) and seq_key(v.seq) > seq_key(seq_before) and v
                ),
                timeout=30,
                what="a new ticker on the server",
            )
            wait_view(page, f"{SEQ_AT_LEAST}(v.lastSeq['{ticker}'], '{server.seq}')")
            after = view(page)
            assert after["gaps"] == 0, after
            assert after["missed"] == 0, after
            assert after["epochChanges"] == 0, after
            assert after["snapshots"].get("reconnect", 0) == 0, after
            assert after["snapshots"].get("gap", 0) == 0, after
            assert after["reconnects"] >= 1, after
            assert page.evaluate("() => window.__sameDocument") is True  # never reloaded
            page.wait_for_function(
                "() => document.querySelector('[data-panel=\"chart\"]').dataset.state === 'live'",
                timeout=30_000,
            )
            shot(page, "3-resumed")
        finally:
            browser.close()

    assert console.exceptions == []
    unexpected = [
        text
        for at, text in console.errors
        if not (outage_start <= at <= outage_end + 5 and NETWORK_ERROR.search(text))
    ]
    assert unexpected == [], unexpected


def create_key(stack: Stack) -> str:
    async def create() -> str:
        client = stack.async_client("test-keys")
        try:
            return (await ApiKeyStore(client).create("dashboard test")).key
        finally:
            await client.aclose()

    return asyncio.run(create())


def test_api_key_entry_when_the_gateway_requires_keys(tmp_path: Path) -> None:
    """The page asks for a key, keeps it in session storage only, and then goes live."""
    assert CHROMIUM is not None
    with running_stack(tmp_path, env={"MP_API_KEYS_REQUIRED": "true"}) as keyed:
        keyed.wait_for_value("ticker:bitcoin")
        key = create_key(keyed)  # before Playwright runs its event loop here
        with sync_playwright() as playwright:
            browser = launch(playwright, CHROMIUM)
            console = ConsoleLog()
            try:
                page = browser.new_page()
                console.attach(page)
                page.goto(keyed.base_url + "/")
                page.wait_for_selector("#key-form:not([hidden])")
                assert "requires an API key" in (page.locator("#key-reason").text_content() or "")
                page.fill("#key-input", "mp_wrong_" + "a" * 43)
                page.click("#key-form button[type=submit]")
                page.wait_for_selector("#key-form:not([hidden])")
                page.wait_for_function(
                    "() => /refused/.test(document.querySelector('#key-reason').textContent)"
                )
                page.fill("#key-input", key)
                page.click("#key-form button[type=submit]")
                wait_view(page, "v.state === 'live' && v.priceUpdates >= 1")
                reason = page.locator("#key-reason").text_content()
                assert page.locator("#key-form").is_hidden(), reason
                stored = page.evaluate("() => [sessionStorage.length, localStorage.length]")
                assert stored == [1, 0]
                assert page.evaluate("() => Object.values(sessionStorage)") == [key]
                shot(page, "keyed")
            finally:
                browser.close()
    assert console.exceptions == []
    # The refused requests (401) are the only errors the browser logged.
    refused = [text for _, text in console.errors]
    assert all("401" in text for text in refused), refused


def test_dashboard_on_the_demo(product: Product) -> None:
    """The whole product as `make demo` runs it (supervisor, simulated market, sentiment).

    Its screenshot is the README's: MP_DASHBOARD_SCREENSHOT=docs/dashboard.png writes it there.
    """
    assert CHROMIUM is not None
    console = ConsoleLog()
    with sync_playwright() as playwright:
        browser = launch(playwright, CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            console.attach(page)
            page.goto(product.base_url + "/")
            wait_view(page, "v.state === 'live' && v.chart.candles >= 60", timeout_s=90)
            page.wait_for_selector("[data-field=explanation] .contribution", timeout=90_000)
            page.wait_for_selector("svg.reliability circle.bin", timeout=90_000)
            for asset in ("bitcoin", "ethereum"):
                page.wait_for_function(
                    "a => /[0-9]/.test(document.querySelector(`.asset[data-asset=${a}] .price`)"
                    "?.textContent ?? '')",
                    arg=asset,
                    timeout=30_000,
                )
            shot(page, "demo")
            target = os.environ.get("MP_DASHBOARD_SCREENSHOT")
            if target:
                page.screenshot(path=str(REPO / target))
                print(f"screenshot: {REPO / target}")
        finally:
            browser.close()
    assert console.exceptions == []
    assert [text for _, text in console.errors] == []
