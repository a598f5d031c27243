"""Who may import whom (``../shared/DESIGN.md``): no import cycle between packages, no upward import.

Imports are read from the source (ast), including imports inside functions, so a lazy import cannot hide
a cycle.
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Lower layers never import higher ones; packages of one layer may import each other (without cycles).
LAYERS = {
    "base": {"errors", "utils", "channels", "io", "montages", "events", "ledger", "deid", "simulate", "evaluate"},
    "signal": {"qeeg", "detect", "network", "ecg", "preprocessing"},
    "engine": {"engine"},
    "presentation": {"report"},
    "knowledge": {"diagnosis", "store"},
    "jobs": {"analyze", "monitor", "nfb"},
    "services": {"server", "batch", "cli"},
}
RANK = {pkg: rank for rank, pkgs in enumerate(LAYERS.values()) for pkg in pkgs}


def _package_imports() -> dict[str, dict[str, str]]:
    """``{package: {imported package: first file that imports it}}`` for dbrain's sub-packages."""
    edges: dict[str, dict[str, str]] = defaultdict(dict)
    for file in ROOT.rglob("*.py"):
        rel = file.relative_to(ROOT.parent)
        if "tests" in rel.parts or len(rel.parts) < 3:
            continue
        pkg = rel.parts[1]
        module = list(rel.with_suffix("").parts)
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module[: len(module) - node.level + (file.name == "__init__.py")]
                    targets.append(base + (node.module.split(".") if node.module else []))
                else:
                    targets.append((node.module or "").split("."))
            elif isinstance(node, ast.Import):
                targets.extend(alias.name.split(".") for alias in node.names)
            for target in targets:
                if len(target) > 1 and target[0] == "dbrain" and target[1] != pkg and (ROOT / target[1]).is_dir():
                    edges[pkg].setdefault(target[1], str(rel))
    return edges


EDGES = _package_imports()


def test_every_package_has_a_layer():
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name not in ("tests", "data")}
    assert packages - set(RANK) == set(), "add the new package to LAYERS (and to DESIGN.md's table)"


@pytest.mark.parametrize("pkg", sorted(EDGES))
def test_no_upward_import(pkg):
    upward = {dep: where for dep, where in EDGES[pkg].items() if RANK.get(dep, -1) > RANK.get(pkg, 99)}
    assert not upward, f"dbrain.{pkg} imports higher layers: {upward}"


def test_core_never_imports_the_server():
    offenders = {pkg: deps["server"] for pkg, deps in EDGES.items() if "server" in deps and pkg != "cli"}
    assert not offenders


def test_no_import_cycle_between_packages():
    def reachable(start):
        seen, stack = set(), [start]
        while stack:
            for dep in EDGES.get(stack.pop(), {}):
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return seen

    cycles = [(a, b, EDGES[a][b]) for a in EDGES for b in EDGES[a] if a in reachable(b)]
    assert not cycles, f"import cycles (package, imports, in file): {cycles}"
