"""The TypeScript client's types are generated from the gateway's contract documents: REST
from the OpenAPI one, the stream's frames and values from the AsyncAPI one. Each checked-in
file must be exactly what its generator makes of the document the gateway serves now."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.js_client import PACKAGE, ensure_ready, run

EXPORT = PACKAGE / "scripts/export_contract.py"
# document → (checked-in file, the command that regenerates it from a document path)
GENERATORS = {
    "openapi": ("src/generated/openapi.ts", ["openapi-typescript", "{document}", "--output"]),
    "asyncapi": ("src/generated/asyncapi.ts", ["node", "scripts/generate-asyncapi.mjs"]),
}

pytestmark = pytest.mark.timeout(900)


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_generated_types_match_the_gateway(kind: str, tmp_path: Path) -> None:
    """src/generated/<kind>.ts == the generator's output for the gateway's /<kind>.json."""
    _node, npm = ensure_ready()
    document = tmp_path / f"{kind}.json"
    subprocess.run([sys.executable, str(EXPORT), kind, str(document)], check=True, timeout=120)
    checked_in, command = GENERATORS[kind]
    regenerated = tmp_path / f"{kind}.ts"
    argv = [arg.format(document=document) for arg in command]
    if "{document}" not in command:
        argv.append(str(document))
    run([npm, "exec", "--", *argv, str(regenerated)], timeout=300)
    assert regenerated.read_text() == (PACKAGE / checked_in).read_text(), (
        f"clients/js/{checked_in} is out of date with the gateway's {kind} document; "
        "regenerate it:\n"
        f"  .venv/bin/python clients/js/scripts/export_contract.py {kind} /tmp/{kind}.json\n"
        f"  (cd clients/js && npm run generate:{kind} -- /tmp/{kind}.json)"
    )
