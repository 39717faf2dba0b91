"""The package's layers, read from its imports: one direction of dependency, no arrow upwards.

Each layer may import only the layers below it (and itself); packages that share a layer are siblings
and do not import each other. Function-local imports count like any other. The order is the
architecture (README, "Layout"):

    errors, units               the error hierarchy and reason codes; COIN
    safejson                    bounded, strict JSON decoding for everything read from outside
    incentive                   pure Yuma consensus and emission math (the chain's epoch step uses it)
    chain                       pure consensus rules over plain data
    store, mining               SQLite chain state and the content-addressed artifact store; block templates
    work                        the useful work: model, data, training, scoring, aggregation
    serve                       inference: engine, OpenAI-compatible server, verification
    p2p                         the peer protocol
    node                        the node daemon: ledger, mempool, RPC/REST, and the one typed node client
    roles, wallet, web          clients of the node
    devnet                      the local network of role processes
    cli                         the command line, imported by nothing but `python -m hashgrad`
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hashgrad"
LAYERS: list[set[str]] = [
    {"errors", "units"},
    {"safejson"},
    {"incentive"},
    {"chain"},
    {"store", "mining"},
    {"work"},
    {"serve"},
    {"p2p"},
    {"node"},
    {"roles", "wallet", "web"},
    {"devnet"},
    {"cli"},
    {"__main__"},
]
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}


def top_package(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_packages(path: Path) -> set[str]:
    """The hashgrad sub-packages a module imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = (
                [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
                if node.module == "hashgrad"
                else [node.module]
            )
        else:
            continue
        found |= {name.split(".")[1] for name in names if name.startswith("hashgrad.")}
    return found


def find_upward_imports() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = top_package(path)
        if source == "__init__":
            continue
        for target in sorted(imported_packages(path) - {source}):
            if target not in LAYER_OF or source not in LAYER_OF:
                problems.append(f"{path.relative_to(PACKAGE.parent)}: {source} -> {target} (package not in LAYERS)")
            elif LAYER_OF[target] >= LAYER_OF[source]:
                problems.append(f"{path.relative_to(PACKAGE.parent)}: {source} -> {target}")
    return problems


def test_every_package_has_a_layer():
    packages = {top_package(path) for path in PACKAGE.rglob("*.py")} - {"__init__"}
    assert packages <= set(LAYER_OF), f"give these packages a layer: {sorted(packages - set(LAYER_OF))}"


def test_imports_point_down_the_layers():
    assert find_upward_imports() == []


def test_the_check_sees_an_upward_arrow(tmp_path, monkeypatch):
    """The check itself can fail: a chain module importing the node is reported."""
    package = tmp_path / "hashgrad"
    (package / "chain").mkdir(parents=True)
    (package / "chain" / "bad.py").write_text("def f():\n    from hashgrad.node import rpc\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", package)
    assert find_upward_imports() == ["hashgrad/chain/bad.py: chain -> node"]
