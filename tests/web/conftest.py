"""Fixtures of the explorer tests: one regtest node with a small history and one explorer process over
it, shared by the API and browser tests of a session; both processes are stopped at the end, whatever
happened."""
from __future__ import annotations

import pytest

from functional.framework import TestNode

from web.web_helpers import ExplorerProcess, build_regtest_chain, write_live_file

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
    process = ExplorerProcess(node.datadir, node.rpc_port, live_file[0],
                              tmp_path_factory.mktemp("explorer-log") / "explorer.log")
    try:
        yield process.wait_ready()
    finally:
        process.stop()
