"""The shape of the code, which a reviewer would otherwise have to keep in their head.

- The services share nothing but Redis: no service imports another, common imports none.
- Inside a package (common or a service), its top-level subpackages are its *parts*
  (the gateway's stream/, access/, rest/; the ingestor's coingecko/, simulated/). A module
  of a part imports only modules of its own part and *neutral* root modules: root modules
  that import nothing of any part, directly or through other root modules (the vocabulary
  the parts share, such as errors.py or catalog.py). The other root modules compose the
  parts (app.py, runtime.py, __main__.py), may import anything, and no part imports them.
  So no part depends on another, not even through the root, and the import graph of the
  parts is layered: neutral root ← parts ← composing root.
- No module imports itself through others.
- Every error marketpulse code defines is a MarketpulseError.

Every import statement counts, inside functions and under TYPE_CHECKING too: each one is a
dependency, whenever it runs. The development tooling (marketpulse_dev) may use common;
nothing the services ship imports it. The Python client imports nothing of the product.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from marketpulse_common.errors import MarketpulseError

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingestor", "compute", "sentiment", "gateway")
PACKAGES = {
    "marketpulse_common": ROOT / "libs/common/src/marketpulse_common",
    "marketpulse_dev": ROOT / "libs/dev/src/marketpulse_dev",
    **{f"marketpulse_{s}": ROOT / f"services/{s}/src/marketpulse_{s}" for s in SERVICES},
}
ERROR_CHECKED = sorted(PACKAGES)


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


@dataclass(frozen=True)
class Module:
    name: str  # dotted: marketpulse_gateway.stream.hub (a package's __init__ by its own name)
    path: Path
    part: str | None  # the top-level subpackage it belongs to; None for a root module

    @property
    def package(self) -> str:
        """The package a relative import in this module starts from."""
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]


@cache
def modules(package: str) -> dict[str, Module]:
    package_dir = PACKAGES[package]
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir)
        dotted = [p for p in relative.with_suffix("").parts if p != "__init__"]
        name = ".".join((package, *dotted))
        found[name] = Module(name, path, relative.parts[0] if len(relative.parts) > 1 else None)
    return found


def imports_of(module: Module, known: dict[str, Module]) -> set[str]:
    """The package modules `module` imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.path.read_text(), str(module.path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                start = module.package.split(".")[: len(module.package.split(".")) - node.level + 1]
                base = ".".join([*start, *([node.module] if node.module else [])])
            for alias in node.names:
                # `from pkg import mod` imports the module; `from mod import name`, mod.
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return (found & known.keys()) - {module.name}


@cache
def import_graph(package: str) -> dict[str, frozenset[str]]:
    known = modules(package)
    return {name: frozenset(imports_of(module, known)) for name, module in known.items()}


def neutral_roots(package: str) -> set[str]:
    """Root modules that import nothing of any part, directly or through other root modules."""
    known, graph = modules(package), import_graph(package)
    verdicts: dict[str, bool] = {}

    def neutral(name: str) -> bool:
        if name not in verdicts:
            verdicts[name] = True  # provisional: a cycle is the cycle test's to report
            verdicts[name] = all(
                known[target].part is None and neutral(target) for target in graph[name]
            )
        return verdicts[name]

    return {name for name, module in known.items() if module.part is None and neutral(name)}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_a_part_imports_only_itself_and_the_neutral_root(package: str) -> None:
    """No sideways arrows: stream/ never imports rest/, nor the runtime that holds both."""
    known, graph, neutral = modules(package), import_graph(package), neutral_roots(package)
    wrong = [
        f"{name} -> {target}"
        for name, module in known.items()
        if module.part is not None
        for target in sorted(graph[name])
        if known[target].part != module.part and target not in neutral
    ]
    assert wrong == []


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

    cycles = [" -> ".join(c) for m in sorted(graph) if (c := cycle_from(m, []))]
    assert cycles == []


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_part_says_what_belongs_in_it(package: str) -> None:
    """Each part's __init__.py opens with a docstring, so a newcomer finds the right room."""
    parts = {m.part for m in modules(package).values() if m.part is not None}
    silent = [
        part
        for part in sorted(parts)
        if not ast.get_docstring(ast.parse((PACKAGES[package] / part / "__init__.py").read_text()))
    ]
    assert silent == []


def test_the_rules_see_the_gateway_as_it_is() -> None:
    """The walk finds the gateway's parts, its neutral root and its composing root."""
    parts = {m.part for m in modules("marketpulse_gateway").values()} - {None}
    assert parts == {"access", "rest", "stream"}
    neutral = neutral_roots("marketpulse_gateway")
    assert "marketpulse_gateway.errors" in neutral
    assert "marketpulse_gateway.runtime" not in neutral
    assert (
        "marketpulse_gateway.stream.hub"
        in import_graph("marketpulse_gateway")["marketpulse_gateway.runtime"]
    )


def defined_exceptions(package: str) -> list[type[BaseException]]:
    """Every exception class a package's modules define (importing each module)."""
    root = importlib.import_module(package)
    found: list[type[BaseException]] = []
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if info.name.endswith("__main__"):
            continue
        for value in vars(importlib.import_module(info.name)).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
            ):
                found.append(value)
    return found


@pytest.mark.parametrize("package", ERROR_CHECKED)
def test_every_error_a_package_defines_is_a_marketpulse_error(package: str) -> None:
    """One `except MarketpulseError` catches anything marketpulse code raises on purpose."""
    errors = defined_exceptions(package)
    assert errors, f"{package} defines no exceptions: the walk found nothing"
    assert [e.__qualname__ for e in errors if not issubclass(e, MarketpulseError)] == []


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
