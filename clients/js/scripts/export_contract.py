"""Write one of the gateway's contract documents, as a default deployment serves it.

`openapi` is `/openapi.json` (the REST API), `asyncapi` is `/asyncapi.json` (the stream). The
TypeScript client's types are generated from them (`src/generated/openapi.ts`,
`src/generated/asyncapi.ts`); `tests/unit/client_js/test_generated_types.py` fails when a
checked-in file no longer matches. The documents depend on settings (the served timeframes
narrow `tf`, the key requirement shapes `security`), so they are built from the defaults,
whatever MP_* variables or `.env` the caller has: the same input on every machine gives the
same file.

    .venv/bin/python clients/js/scripts/export_contract.py openapi /tmp/openapi.json
    .venv/bin/python clients/js/scripts/export_contract.py asyncapi /tmp/asyncapi.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from marketpulse_common.settings import Settings
from marketpulse_gateway.app import create_app

PATHS = {"openapi": "/openapi.json", "asyncapi": "/asyncapi.json"}


def contract_document(kind: str) -> dict[str, Any]:
    """The document the gateway serves at PATHS[kind] with default settings (no Redis)."""
    for name in [n for n in os.environ if n.startswith("MP_")]:
        del os.environ[name]
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]  # pydantic-settings
    # The FastAPI app alone: the documents need no running gateway (no lifespan, no Redis).
    response = TestClient(app.api).get(PATHS[kind])
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(PATHS), help="which document")
    parser.add_argument("output", type=Path, help="where to write the JSON document")
    args = parser.parse_args()
    text = json.dumps(contract_document(args.kind), indent=2, sort_keys=True) + "\n"
    args.output.write_text(text)


if __name__ == "__main__":
    main()
