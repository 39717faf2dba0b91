"""A transfer built without a wallet (`make_transfer`) goes in by sendrawtransaction on node0, is relayed,
mined on node1 and confirmed everywhere; the mempool and transaction RPCs show each stage, and the
ledger's reject reasons come back with Bitcoin Core's codes.
"""

from __future__ import annotations

import pytest

from functional.framework import connect_nodes, new_address, sync_blocks, sync_mempools
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.tx import make_transfer
from hashgrad.errors import RpcError

FEE = 1_000


def rejected(node, tx) -> tuple[str, int]:
    with pytest.raises(RpcError) as error:
        node.sendrawtransaction(tx.serialize().hex())
    return error.value.reason, error.value.code


def test_transfer_relayed_and_mined_elsewhere(node_factory):
    node0, node1 = node_factory(2)
    connect_nodes(node1, node0)
    alice, alice_address = new_address(node0.params)
    bob, bob_address = new_address(node0.params)
    node1.generate(1, alice_address)
    sync_blocks([node0, node1])
    funds = node0.getaccount(alice_address)["balance"]
    magic = node0.params.magic

    tx = make_transfer(alice, magic, 0, bob.pubkey, 12_345, FEE)
    txid = node0.sendrawtransaction(tx.serialize().hex())
    assert txid == hash_to_display(tx.txid)
    assert node0.sendrawtransaction(tx.serialize().hex()) == txid  # resubmitting is not an error
    assert sync_mempools([node0, node1]) == {txid}
    pending = node1.getrawmempool(True)[txid]
    assert (pending["fee"], pending["nonce"], pending["sender"]) == (FEE, 0, alice_address)
    assert node1.getmempoolinfo()["size"] == 1
    account = node1.getaccount(alice_address)
    assert (account["nonce"], account["pending_nonce"], account["pending_balance"]) == (0, 1, funds - 12_345 - FEE)
    assert node1.getaddresshistory(bob_address)[0]["confirmations"] == 0

    assert rejected(node0, make_transfer(alice, magic, 0, bob.pubkey, 1, FEE)) == ("txn-mempool-conflict", -26)
    assert rejected(node0, make_transfer(alice, magic, 5, bob.pubkey, 1, FEE)) == ("bad-txns-nonce-gap", -26)
    assert rejected(node0, make_transfer(alice, magic, 1, bob.pubkey, funds, FEE)) == ("bad-txns-balance", -26)
    assert rejected(node0, make_transfer(bob, magic, 0, alice.pubkey, 1, FEE)) == ("bad-txns-balance", -26)
    other_network = make_transfer(alice, b"\x00\x00\x00\x00", 1, bob.pubkey, 1, FEE)
    assert rejected(node0, other_network) == ("bad-txns-sig", -26)

    block_hash = node1.generate(1)[0]
    sync_blocks([node0, node1])
    assert node0.getrawmempool() == [] and node1.getrawmempool() == []
    assert txid in node0.getblock(block_hash)["tx"]
    for node in (node0, node1):
        mined = node.gettransaction(txid)
        assert (mined["blockhash"], mined["confirmations"], mined["in_mempool"]) == (block_hash, 1, False)
        assert (mined["recipient"], mined["amount"], mined["fee"]) == (bob_address, 12_345, FEE)
        assert node.getrawtransaction(txid) == tx.serialize().hex()
        assert node.getaccount(bob_address)["balance"] == 12_345
        assert node.getaccount(alice_address)["nonce"] == 1
        history = node.getaddresshistory(alice_address)
        assert [(h["txid"], h["direction"]) for h in history][:1] == [(txid, "out")]
    assert rejected(node0, tx) == ("txn-already-known", -27)
