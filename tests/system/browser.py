"""Headless Chromium for the dashboard's browser tests and benchmark, driven by Playwright.

The browser is the system's own (Debian's `chromium`, installed by .ci/run), never one
Playwright downloads: `chromium_path()` finds it (MP_CHROMIUM overrides), and callers skip
with one line when there is none. `ConsoleLog` keeps what the page printed and threw.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Playwright

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_INDEX = REPO / "dashboard" / "dist" / "index.html"
NO_CHROMIUM = (
    "no Chromium found (apt-get install chromium, or set MP_CHROMIUM): browser tests skipped"
)
NOT_BUILT = "the dashboard is not built (make install needs npm): browser tests skipped"


def chromium_path() -> str | None:
    configured = os.environ.get("MP_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch(playwright: Playwright, executable: str) -> Browser:
    # --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start.
    return playwright.chromium.launch(
        executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"]
    )


@dataclass
class ConsoleLog:
    """Console errors and uncaught exceptions of a page, each with its monotonic time."""

    errors: list[tuple[float, str]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", self._exception)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append((time.monotonic(), f"{message.text} @ {message.location}"))

    def _exception(self, error: Error) -> None:
        self.exceptions.append(f"{error.name}: {error.message}\n{error.stack}")

    def errors_outside(self, windows: list[tuple[float, float]]) -> list[str]:
        """Console errors outside the given (start, end) windows, e.g. an outage."""
        return [text for at, text in self.errors if not any(a <= at <= b for a, b in windows)]
