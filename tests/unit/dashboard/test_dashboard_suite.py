"""The dashboard's own suite (Vitest: indicator math against the compute service's values,
the bounded candle book, panel freshness) and its type check, run as part of `make test`.

`make install` installs dashboard/ from its lockfile; without npm (or before an install) these
skip with one line. Vitest runs once; each of its files is one test here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "dashboard"
TEST_FILES = sorted(p.relative_to(DASHBOARD).as_posix() for p in DASHBOARD.glob("test/*.test.ts"))
TIMEOUT_S = 300

pytestmark = pytest.mark.timeout(TIMEOUT_S + 60)


def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        pytest.skip("npm is not on PATH: the dashboard (dashboard/) is not tested")
    if not (DASHBOARD / "node_modules").is_dir():
        pytest.skip("dashboard/node_modules is missing (make install): the dashboard is not tested")
    return found


@pytest.fixture(scope="module")
def vitest_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    report = tmp_path_factory.mktemp("vitest") / "report.json"
    done = subprocess.run(
        [npm(), "exec", "--", "vitest", "run", "--reporter=json", f"--outputFile={report}"],
        cwd=DASHBOARD,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if not report.exists():
        raise AssertionError(
            f"vitest wrote no report:\n{done.stdout[-8000:]}\n{done.stderr[-8000:]}"
        )
    result: dict[str, Any] = json.loads(report.read_text())
    return result


def test_the_suite_has_files() -> None:
    assert len(TEST_FILES) >= 3


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_vitest_file_passes(vitest_report: dict[str, Any], test_file: str) -> None:
    path = (DASHBOARD / test_file).resolve()
    results = [r for r in vitest_report["testResults"] if Path(r["name"]).resolve() == path]
    assert results, f"vitest did not run {test_file}"
    assertions = results[0]["assertionResults"]
    failed = [a for a in assertions if a["status"] != "passed"]
    messages = "\n\n".join(
        f"{a['fullName']}: {a['status']}\n" + "\n".join(a.get("failureMessages") or [])
        for a in failed
    )
    assert results[0]["status"] == "passed" and not failed, messages
    assert assertions, f"{test_file} ran no test"


def test_the_dashboard_type_checks() -> None:
    """`tsc --noEmit` (strict) over the sources and tests."""
    done = subprocess.run(
        [npm(), "run", "--silent", "typecheck"],
        cwd=DASHBOARD,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
