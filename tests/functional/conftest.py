"""Fixtures of the functional tests: a factory of real node processes that are always cleaned up.

`node_factory(n, *args)` starts n `hashgrad node` processes (regtest, loopback, tmp datadirs) and
returns them; at teardown every process the test started is stopped or killed, and when the test
failed the tail of each node's log is printed (pytest shows it with the failure). The explorer tests
share one regtest node with a small history and one explorer process over it (session fixtures).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from functional.framework import TestNode
from functional.web_helpers import ExplorerProcess, build_regtest_chain, write_live_file

FUNCTIONAL_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Mark every test of this folder `functional` (select or skip them with -m)."""
    for item in items:
        if FUNCTIONAL_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.functional)


@pytest.fixture
def node_factory(tmp_path, request):
    nodes: list[TestNode] = []

    def make(count: int = 1, *extra_args: str, start: bool = True, network: str = "regtest") -> list[TestNode]:
        made = []
        for _ in range(count):
            node = TestNode(len(nodes), tmp_path, network)
            nodes.append(node)
            made.append(node)
            if start:
                node.start(*extra_args)
        return made

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for node in nodes:
        node.cleanup()
        if failed:
            print(f"----- {node} log tail -----\n{node.read_log()}")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


ROLES = [("validator", None), ("miner", None), ("miner", "lazy")]


@pytest.fixture(scope="session")
def regtest_chain(tmp_path_factory):
    node = TestNode(0, tmp_path_factory.mktemp("explorer-node"))
    try:
        node.start()
        yield build_regtest_chain(node, len(ROLES))
    finally:
        node.cleanup()


@pytest.fixture(scope="session")
def live_file(regtest_chain, tmp_path_factory):
    path = tmp_path_factory.mktemp("explorer-live") / "live.json"
    document = write_live_file(path, regtest_chain, ROLES)
    return path, document


@pytest.fixture(scope="session")
def explorer(regtest_chain, live_file, tmp_path_factory):
    node = regtest_chain.node
    process = ExplorerProcess(
        node.datadir, node.rpc_port, live_file[0], tmp_path_factory.mktemp("explorer-log") / "explorer.log"
    )
    try:
        yield process.wait_ready()
    finally:
        process.stop()
