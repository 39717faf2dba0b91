"""SIGKILL in the middle of a sync, restart on the same datadir: consistent, and the sync completes.

node1 syncs 1,500 blocks from node0 and is killed (no shutdown code runs) as soon as it has some.
On restart it opens at a height h it had fully connected, with node0's block at h and a balanced
supply audit; reconnected, it finishes the sync with exactly node0's state.
"""

from __future__ import annotations

from functional.framework import new_address, wait_until

BLOCKS = 1500


def test_sigkill_during_sync_then_restart(node_factory):
    (node0,) = node_factory(1)
    _, address = new_address(node0.params)
    node0.generate(BLOCKS, address)
    (node1,) = node_factory(1, "--connect", node0.p2p_addr)
    killed_at = wait_until(lambda: node1.getblockcount() or None, 60, "node1 to start syncing")
    assert node1.kill() == -9
    assert (node1.datadir / ".cookie").exists()  # no clean shutdown ran: the stale cookie stays

    node1.start()  # the stale cookie is replaced by a fresh one
    height = node1.getblockcount()
    assert height >= killed_at
    assert height < BLOCKS, "the kill was meant to land mid-sync"
    assert node1.getbestblockhash() == node0.getblockhash(height)
    supply = node1.getsupply()
    assert supply["balanced"] and supply["height"] == height

    node1.addnode(node0.p2p_addr, "onetry")
    wait_until(lambda: node1.getblockcount() == BLOCKS, 120, "node1 to finish the sync")
    assert node1.getbestblockhash() == node0.getbestblockhash()
    assert node1.getsupply() == node0.getsupply()
    assert node1.getaccount(address) == node0.getaccount(address)
    assert node1.stop() == 0
