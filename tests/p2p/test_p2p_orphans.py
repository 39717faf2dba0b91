"""The orphan pool's bounds and the parents that cure an orphan."""

from __future__ import annotations

from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import get_network
from hashgrad.chain.tx import make_transfer
from hashgrad.errors import MempoolError, TxError
from hashgrad.p2p.orphans import OrphanPool, is_missing_parent

MAGIC = get_network("regtest").magic


def transfer(key, nonce, recipient, amount=1_000):
    return make_transfer(key, MAGIC, nonce, recipient.pubkey, amount, 5_000)


def test_orphans_cured_by_previous_nonce_or_funding():
    alice, bob, carol = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
    pool = OrphanPool()
    second = transfer(alice, 1, carol)
    funded = transfer(bob, 0, carol)
    unrelated = transfer(carol, 3, alice)
    for tx in (second, funded, unrelated):
        assert pool.add(tx, peer_id=1, now=0.0)
    assert not pool.add(second, peer_id=2, now=0.0)  # kept once
    parent = transfer(alice, 0, bob)  # alice's nonce 0, paying bob: cures both
    cured = pool.take_children(parent)
    assert [o.tx for o in cured] == sorted([second, funded], key=lambda t: (t.sender, t.nonce))
    assert len(pool) == 1 and unrelated.txid in pool


def test_orphan_pool_bounds():
    key, other = SigningKey.generate(), SigningKey.generate()
    pool = OrphanPool(max_count=3, max_tx_size=10_000, expire_s=60)
    txs = [transfer(key, n, other) for n in range(1, 6)]
    for i, tx in enumerate(txs):
        pool.add(tx, peer_id=i % 2, now=float(i))
    assert [o.tx for o in pool.entries.values()] == txs[2:]  # the oldest went first
    pool.remove_peer(0)
    assert [o.tx for o in pool.entries.values()] == [txs[3]]
    pool.expire(now=3 + 60)
    assert len(pool) == 0
    assert not OrphanPool(max_tx_size=10).add(txs[0], 1, 0.0)


def test_missing_parent_reasons():
    assert is_missing_parent(TxError("bad-txns-nonce-gap")) and is_missing_parent(TxError("bad-txns-balance"))
    assert not is_missing_parent(TxError("bad-txns-sig")) and not is_missing_parent(MempoolError("mempool-full"))
