"""Two partitions mine apart, reconnect, and converge on the most-work chain with identical state.

    node0 ── node1 ─╳─ node2        side A (node0, node1) mines 3 blocks holding
                                     tx_a (alice → carol) and tx_conflict_a (bob nonce 0 → carol)
                                     side B (node2) mines 6 blocks holding
                                     tx_b (bob nonce 0 → dave): more work

After the reconnect every node is on side B's chain; tx_a, which side B never saw, is back in side
A's mempool and gets mined again, while tx_conflict_a, whose nonce tx_b used, is gone for good.
"""

from __future__ import annotations

from functional.framework import connect_nodes, disconnect_nodes, new_address, sync_blocks, sync_mempools, wait_until
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.tx import make_transfer

COIN = 100_000_000
FEE = 1_000


def send(node, key, recipient_key, amount: int, nonce: int) -> str:
    tx = make_transfer(key, node.params.magic, nonce, recipient_key.pubkey, amount, FEE)
    txid = node.sendrawtransaction(tx.serialize().hex())
    assert txid == hash_to_display(tx.txid)
    return txid


def confirmed(account: dict) -> dict:
    """The chain-state part of getaccount (the pending_* fields follow each node's own mempool)."""
    return {k: v for k, v in account.items() if not k.startswith("pending")}


def test_partitions_reorg_to_most_work(node_factory):
    node0, node1, node2 = node_factory(3)
    connect_nodes(node1, node0)
    connect_nodes(node1, node2)
    alice, alice_address = new_address(node0.params)
    bob, bob_address = new_address(node0.params)
    carol, carol_address = new_address(node0.params)
    dave, dave_address = new_address(node0.params)
    _, maker_a = new_address(node0.params)
    _, maker_b = new_address(node0.params)
    node0.generate(2, alice_address)
    node0.generate(2, bob_address)
    sync_blocks([node0, node1, node2])

    disconnect_nodes(node1, node2)
    tx_a = send(node0, alice, carol, 2 * COIN, 0)
    tx_conflict_a = send(node0, bob, carol, 1 * COIN, 0)
    sync_mempools([node0, node1])
    node0.generate(3, maker_a)
    sync_blocks([node0, node1])
    tx_b = send(node2, bob, dave, 3 * COIN, 0)
    node2.generate(6, maker_b)
    assert node0.gettransaction(tx_a)["confirmations"] == 3
    assert node2.getblockcount() == 10 and node0.getblockcount() == 7

    connect_nodes(node1, node2)
    tip = sync_blocks([node0, node1, node2])
    assert tip == node2.getbestblockhash() and node0.getblockcount() == 10
    addresses = [alice_address, bob_address, carol_address, dave_address, maker_a, maker_b]
    for node in (node0, node1):
        assert node.getsupply() == node2.getsupply()
        for address in addresses:
            assert confirmed(node.getaccount(address)) == confirmed(node2.getaccount(address))
    assert node0.getaccount(maker_a)["balance"] == 0  # side A's block rewards went with its blocks
    assert node0.getaccount(dave_address)["balance"] == 3 * COIN
    assert node0.gettransaction(tx_b)["blockhash"] is not None

    # The losing side's transaction is pending again; the conflicting one is gone.
    mempool0 = node0.getrawmempool()
    assert tx_a in mempool0 and tx_conflict_a not in mempool0
    pending = node0.gettransaction(tx_a)
    assert pending["in_mempool"] and pending["confirmations"] == 0
    assert node0.getaccount(alice_address)["pending_nonce"] == 1

    node0.generate(1, maker_a)
    sync_blocks([node0, node1, node2])
    mined = node2.gettransaction(tx_a)
    assert not mined["in_mempool"] and mined["height"] == 11
    assert node2.getaccount(carol_address)["balance"] == 2 * COIN
    wait_until(lambda: all(not node.getrawmempool() for node in (node0, node1, node2)), 30, "empty mempools")
    supply = node2.getsupply()
    assert supply["balanced"] and all(node.getsupply() == supply for node in (node0, node1))
