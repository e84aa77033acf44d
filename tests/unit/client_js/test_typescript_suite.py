"""The TypeScript client's own suite (Vitest) and type check, run as part of `make test`.

Vitest runs once per session; each of its test files is one test here, so a failure names
the file and shows Vitest's own messages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.js_client import PACKAGE, ensure_ready, run

TEST_FILES = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.glob("test/*.test.ts"))
VITEST_TIMEOUT_S = 600

pytestmark = pytest.mark.timeout(VITEST_TIMEOUT_S + 300)


@pytest.fixture(scope="module")
def vitest_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Vitest's JSON report of the whole suite, run once."""
    _node, npm = ensure_ready()
    report = tmp_path_factory.mktemp("vitest") / "report.json"
    done = run(
        [npm, "exec", "--", "vitest", "run", "--reporter=json", f"--outputFile={report}"],
        timeout=VITEST_TIMEOUT_S,
        check=False,
    )
    if not report.exists():
        output = f"{done.stdout[-8000:]}\n{done.stderr[-8000:]}"
        raise AssertionError(f"vitest wrote no report:\n{output}")
    result: dict[str, Any] = json.loads(report.read_text())
    return result


def test_the_suite_has_files() -> None:
    """The Vitest files are found (an empty list would make the suite pass vacuously)."""
    assert len(TEST_FILES) >= 5


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_vitest_file_passes(vitest_report: dict[str, Any], test_file: str) -> None:
    """Every test of one Vitest file passes."""
    path = str((PACKAGE / test_file).resolve())
    results = [r for r in vitest_report["testResults"] if Path(r["name"]).resolve() == Path(path)]
    assert results, f"vitest did not run {test_file}"
    result = results[0]
    assertions = result["assertionResults"]
    failed = [a for a in assertions if a["status"] != "passed"]
    messages = "\n\n".join(
        f"{a['fullName']}: {a['status']}\n" + "\n".join(a.get("failureMessages") or [])
        for a in failed
    )
    assert result["status"] == "passed" and not failed, messages or result.get("message", "")
    assert assertions, f"{test_file} ran no test"


def test_the_typescript_type_checks() -> None:
    """`tsc --noEmit` over the sources and tests is clean (strict mode)."""
    _node, npm = ensure_ready()
    run([npm, "run", "--silent", "typecheck"], timeout=300)
