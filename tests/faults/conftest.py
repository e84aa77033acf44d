"""Shared by the fault-injection suite: the verdict ledger printed at the end of a run.

Each scenario hands its `Verdict` to the `verdicts` fixture; the terminal summary lists them
all (the figures the README's fault-injection list quotes) and `FAULTS_VERDICTS` (a path, if
set) receives them as JSON lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from tests.faults.verdict import Verdict

_RECORDED: list[Verdict] = []


@pytest.fixture
def verdicts() -> Callable[[Verdict], None]:
    """Record a scenario's verdict (then assert it clean in the test itself)."""

    def record(verdict: Verdict) -> None:
        _RECORDED.append(verdict)
        target = os.environ.get("FAULTS_VERDICTS")
        if target:
            with open(target, "a") as out:
                row = {**verdict.__dict__, "unexpected": verdict.unexpected}
                out.write(json.dumps(row) + "\n")

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _RECORDED:
        terminalreporter.section("fault-injection verdicts")
        for verdict in _RECORDED:
            terminalreporter.write_line(verdict.line())
