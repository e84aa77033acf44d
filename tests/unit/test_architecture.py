"""The services share nothing but Redis: no service imports another, common imports none;
every error marketpulse code defines is a MarketpulseError.

The development tooling (marketpulse_dev) may use common; nothing the services ship imports it.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from pathlib import Path

import pytest

from marketpulse_common.errors import MarketpulseError

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingestor", "compute", "sentiment", "gateway")
ERROR_CHECKED_SERVICES = ("marketpulse_ingestor", "marketpulse_compute", "marketpulse_sentiment")
PACKAGES = {
    "marketpulse_common": ROOT / "libs/common/src/marketpulse_common",
    "marketpulse_dev": ROOT / "libs/dev/src/marketpulse_dev",
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


def defined_exceptions(package: str) -> list[type[BaseException]]:
    """Every exception class a package's modules define (importing each module)."""
    root = importlib.import_module(package)
    found: list[type[BaseException]] = []
    for module in pkgutil.walk_packages(root.__path__, f"{package}."):
        if module.name.endswith("__main__"):
            continue
        for value in vars(importlib.import_module(module.name)).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == module.name
            ):
                found.append(value)
    return found


# The gateway's tree is being rebased onto MarketpulseError on its own branch; add it here then.
@pytest.mark.parametrize("package", ["marketpulse_common", *ERROR_CHECKED_SERVICES])
def test_every_error_a_package_defines_is_a_marketpulse_error(package: str) -> None:
    """One `except MarketpulseError` catches anything marketpulse code raises on purpose."""
    errors = defined_exceptions(package)
    assert errors, f"{package} defines no exceptions: the walk found nothing"
    assert [e.__qualname__ for e in errors if not issubclass(e, MarketpulseError)] == []


def module_name(package: str, package_dir: Path, path: Path) -> str:
    parts = path.relative_to(package_dir).with_suffix("").parts
    return ".".join((package, *(p for p in parts if p != "__init__")))


def top_level_imports(path: Path, known: set[str]) -> set[str]:
    """The package modules `path` imports when it is loaded (TYPE_CHECKING blocks and imports
    inside functions run later, so they make no cycle)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found & known


def import_graph(package: str) -> dict[str, set[str]]:
    package_dir = PACKAGES[package]
    paths = {module_name(package, package_dir, p): p for p in package_dir.rglob("*.py")}
    known = set(paths)
    return {name: top_level_imports(path, known) - {name} for name, path in paths.items()}


def subpackage_of(package: str, module: str) -> str | None:
    """`coingecko` for marketpulse_ingestor.coingecko.client; None for a root module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == package else None


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_a_subpackage_imports_only_the_root_and_itself(package: str) -> None:
    """No sideways arrows: coingecko/ never imports simulated/ (nor any sibling another)."""
    sideways = [
        f"{module} -> {target}"
        for module, targets in import_graph(package).items()
        if (own := subpackage_of(package, module)) is not None
        for target in targets
        if subpackage_of(package, target) not in (None, own)
    ]
    assert sideways == []


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_module_imports_itself_through_others(package: str) -> None:
    """The module import graph has no cycles (each one makes import order matter)."""
    graph = import_graph(package)
    done: set[str] = set()

    def cycle_from(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for target in sorted(graph[module]):
            if found := cycle_from(target, [*path, module]):
                return found
        done.add(module)
        return None

    cycles = [c for m in sorted(graph) if (c := cycle_from(m, []))]
    assert cycles == []


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
