"""The regtest/devnet block maker: `--mine-interval S --payout ADDRESS` makes a block every S seconds,
peers receive them, RPC stays responsive meanwhile, and SIGTERM stops the node cleanly (exit 0).
Block making is refused on networks that retarget (main, test): the flag at start, the RPC at run time.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from functional.framework import REPO_ROOT, connect_nodes, new_address, sync_blocks, wait_until
from hashgrad.chain.params import get_network
from hashgrad.errors import RpcError


def test_block_maker_on_a_timer(node_factory):
    _, payout = new_address(get_network("regtest"))
    (maker,) = node_factory(1, "--mine-interval", "0.2", "--payout", payout)
    (watcher,) = node_factory(1)
    connect_nodes(watcher, maker)
    wait_until(lambda: watcher.getblockcount() >= 5, 30, "five blocks from the block maker")
    assert watcher.getaccount(payout)["balance"] > 0
    assert maker.getblockchaininfo()["chain"] == "regtest"  # answered while blocks keep coming
    assert maker.terminate() == 0
    assert "made block" in maker.read_log(200)
    height = watcher.getblockcount()
    maker.start()  # restarted without the block maker: resumes at its height, makes nothing
    sync_blocks([maker, watcher])
    assert maker.getblockcount() == height


def test_block_making_refused_on_test_network(node_factory, tmp_path):
    (node,) = node_factory(1, network="test")
    _, address = new_address(node.params)
    with pytest.raises(RpcError) as refused:
        node.generatetoaddress(1, address)
    assert (refused.value.reason, refused.value.code) == ("method-not-found", -32601)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hashgrad",
            "node",
            "--network",
            "test",
            "--datadir",
            str(tmp_path / "never"),
            "--mine-interval",
            "1",
            "--payout",
            address,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "mining-not-allowed" in done.stderr
