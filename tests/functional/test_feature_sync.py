"""Block sync between real node processes: three nodes in a line, and a late node catching up 1,000 blocks.

node0 ── node1 ── node2      blocks made at either end reach the other end through node1
node3 (late)                  starts with --connect node0 after 1,000 blocks and catches up
"""

from __future__ import annotations

from functional.framework import connect_nodes, new_address, sync_blocks, wait_until


def assert_same_state(nodes, addresses) -> None:
    """Same tip, same supply audit, same accounts on every node."""
    first, *others = nodes
    supply = first.getsupply()
    assert supply["balanced"]
    for node in others:
        assert node.getbestblockhash() == first.getbestblockhash()
        assert node.getsupply() == supply
        for address in addresses:
            assert node.getaccount(address) == first.getaccount(address)


def test_three_nodes_sync_in_a_line(node_factory):
    node0, node1, node2 = node_factory(3)
    connect_nodes(node1, node0)
    connect_nodes(node2, node1)
    _, address0 = new_address(node0.params)
    _, address2 = new_address(node2.params)

    node0.generate(10, address0)
    tip = sync_blocks([node0, node1, node2])
    assert node2.getblockcount() == 10 and tip == node0.getbestblockhash()

    node2.generate(5, address2)  # and back the other way
    sync_blocks([node0, node1, node2])
    assert node0.getblockcount() == 15
    assert_same_state([node0, node1, node2], [address0, address2])
    peers = node1.getpeerinfo()
    assert len(peers) == 2 and all(p["handshaked"] and p["synced_height"] == 15 for p in peers)
    assert sorted(p["inbound"] for p in peers) == [False, True]  # out to node0, in from node2


def test_late_node_syncs_1000_blocks(node_factory):
    (node0,) = node_factory(1)
    _, address = new_address(node0.params)
    node0.generate(1000, address)
    (late,) = node_factory(1, "--connect", node0.p2p_addr)
    wait_until(lambda: late.getblockcount() == 1000, 120, "the late node at height 1000")
    assert_same_state([node0, late], [address])
    for height in (1, 500, 999, 1000):
        assert late.getblockhash(height) == node0.getblockhash(height)
    info = late.getblockchaininfo()
    assert info["blocks"] == info["headers"] == 1000 and info["orphans"] == 0
