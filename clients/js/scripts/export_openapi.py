"""Write the gateway's OpenAPI document, as a default deployment serves it, to a JSON file.

The TypeScript client's REST types (`src/generated/openapi.ts`) are generated from this
document; `tests/unit/client_js/test_openapi_types.py` fails when the checked-in file no
longer matches it. The document depends on settings (the served timeframes narrow `tf`, the
key requirement shapes `security`), so it is built from the defaults, whatever MP_* variables
or `.env` the caller has: the same input on every machine gives the same file.

    .venv/bin/python clients/js/scripts/export_openapi.py clients/js/openapi.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from marketpulse_common.settings import Settings
from marketpulse_gateway.app import create_app


def openapi_document() -> dict[str, Any]:
    """The document `/openapi.json` serves with default settings (no Redis needed)."""
    for name in [n for n in os.environ if n.startswith("MP_")]:
        del os.environ[name]
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]  # pydantic-settings
    return app.api.openapi()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="where to write the JSON document")
    args = parser.parse_args()
    text = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    args.output.write_text(text)


if __name__ == "__main__":
    main()
