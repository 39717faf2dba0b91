"""Relay: a transaction whose parent has not arrived yet is kept as an orphan and admitted after it.

A raw peer sends three transactions in the worst order: C (from an account that only A funds), B
(nonce 1 of A's sender), then A. Without an orphan pool B and C would be refused
(`bad-txns-nonce-gap`, `bad-txns-balance`) and forgotten. With it B follows A into the mempool at
once; C, which the mempool can take only once A's credit is in the chain (it checks a sender's
balance at the tip), is admitted when the block holding A connects.
"""

from __future__ import annotations

from functional.framework import RawPeer, new_address, wait_until
from hashgrad.chain.tx import make_transfer
from hashgrad.p2p.messages import TxMessage


def test_p2p_orphan_transactions_wait_for_their_parent(node_factory):
    node = node_factory(1)[0]
    key, address = new_address(node.params)
    funded, _ = new_address(node.params)
    node.generate(1, address)
    magic = node.params.magic
    tx_a = make_transfer(key, magic, 0, funded.pubkey, 100_000, 5_000)
    tx_b = make_transfer(key, magic, 1, new_address(node.params)[0].pubkey, 1_000, 5_000)
    tx_c = make_transfer(funded, magic, 0, new_address(node.params)[0].pubkey, 1_000, 5_000)
    peer = RawPeer(node, "127.0.0.4")
    peer.handshake(best_height=1)
    for tx in (tx_c, tx_b):
        peer.send_message(TxMessage(tx))
    peer.send_message(TxMessage(tx_a))
    first = {tx.txid[::-1].hex() for tx in (tx_a, tx_b)}
    wait_until(lambda: set(node.getrawmempool()) == first, 30, "B admitted after its parent A")
    pool = node.getrawmempool(True)
    assert pool[tx_b.txid[::-1].hex()]["depends"] == [tx_a.txid[::-1].hex()]
    node.generate(1)
    wait_until(lambda: node.getrawmempool() == [tx_c.txid[::-1].hex()], 30, "C admitted once A is mined")
    peer.close()
