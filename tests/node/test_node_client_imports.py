"""The node's clients (roles, wallet, web, devnet) reach a node only through the one typed client.

Reads the imports of every module in those packages: from `hashgrad.node` they may import the
client (`node.client`) and its typed replies (`node.replies`) and nothing else, save the mempool's
relay-fee policy constant the wallet prices transactions with. The transport (`node.rpc_client`),
the server and the node's internals stay out of reach.
"""

from __future__ import annotations

import ast
from pathlib import Path

import hashgrad

CLIENT_PACKAGES = ("roles", "wallet", "web", "devnet")
ALLOWED = {"hashgrad.node.client", "hashgrad.node.replies"}
ALLOWED_NAMES = {("hashgrad.node.mempool", "DEFAULT_MIN_FEE_RATE")}


def iter_node_imports(path: Path):
    """(module, name) for each `from hashgrad.node... import name` and `import hashgrad.node...` in a file."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hashgrad.node"):
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("hashgrad.node"):
                    yield alias.name, None


def test_node_clients_use_only_the_typed_client():
    root = Path(hashgrad.__file__).parent
    found = []
    for package in CLIENT_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for module, name in iter_node_imports(path):
                if module not in ALLOWED and (module, name) not in ALLOWED_NAMES:
                    found.append(f"{path.relative_to(root)}: {module} {name}")
    assert found == [], found


def test_the_check_sees_an_import_of_the_transport(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from hashgrad.node.rpc_client import RpcClient\nimport hashgrad.node.daemon\n")
    assert list(iter_node_imports(sample)) == [
        ("hashgrad.node.rpc_client", "RpcClient"),
        ("hashgrad.node.daemon", None),
    ]
