"""The TypeScript client's REST types are generated from the gateway's OpenAPI document;
the checked-in file must be exactly what the generator makes of the current document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.js_client import PACKAGE, ensure_ready, run

GENERATED = PACKAGE / "src/generated/openapi.ts"
EXPORT = PACKAGE / "scripts/export_openapi.py"

pytestmark = pytest.mark.timeout(900)


def test_generated_openapi_types_match_the_gateway(tmp_path: Path) -> None:
    """src/generated/openapi.ts == openapi-typescript(the gateway's /openapi.json)."""
    _node, npm = ensure_ready()
    document = tmp_path / "openapi.json"
    subprocess.run([sys.executable, str(EXPORT), str(document)], check=True, timeout=120)
    regenerated = tmp_path / "openapi.ts"
    run(
        [npm, "exec", "--", "openapi-typescript", str(document), "--output", str(regenerated)],
        timeout=300,
    )
    assert regenerated.read_text() == GENERATED.read_text(), (
        "clients/js/src/generated/openapi.ts is out of date with the gateway's OpenAPI "
        "document; regenerate it:\n"
        "  .venv/bin/python clients/js/scripts/export_openapi.py /tmp/openapi.json\n"
        "  (cd clients/js && npm run generate:openapi -- /tmp/openapi.json)"
    )
