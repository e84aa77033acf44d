"""The services share nothing but Redis: no service imports another, common imports none."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingestor", "compute", "sentiment", "gateway")
PACKAGES = {
    "marketpulse_common": ROOT / "libs/common/src/marketpulse_common",
    **{f"marketpulse_{s}": ROOT / f"services/{s}/src/marketpulse_{s}" for s in SERVICES},
}


def imported_packages(package_dir: Path) -> set[str]:
    found: set[str] = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {name for name in found if name.startswith("marketpulse_")}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_a_package_imports_only_itself_and_common(package: str) -> None:
    """A service may import marketpulse_common and itself; common imports no service."""
    allowed = {package, "marketpulse_common"}
    assert PACKAGES[package].is_dir()
    assert imported_packages(PACKAGES[package]) <= allowed


CLIENT = ROOT / "clients/python/src/marketpulse_client"


def test_the_python_client_speaks_only_the_wire_protocol() -> None:
    """marketpulse_client imports no service and not common: users install it alone."""
    assert CLIENT.is_dir()
    assert imported_packages(CLIENT) == {"marketpulse_client"}


def test_the_python_client_depends_only_on_its_declared_libraries() -> None:
    """Third-party imports of the client are httpx, websockets, pydantic (and rich, lazily)."""
    stdlib = set(sys.stdlib_module_names)
    found = set()
    for path in CLIENT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    assert found - stdlib - {"marketpulse_client"} == {"httpx", "websockets", "pydantic", "rich"}
