"""Orphan blocks are bounded by bytes as well as by count (before the fix only by count: 256 full
blocks could pin half a gigabyte). Seen failing first: no byte accounting, nothing was evicted."""

from __future__ import annotations

from hashgrad.store import chainstate as chainstate_module
from support.ledger import ALICE, NOW, make_block, make_child, make_transfer


def test_orphans_are_evicted_oldest_first_past_the_byte_limit(funded, monkeypatch):
    parent = make_child(funded)  # never given: everything below is an orphan
    blocks, prev = [], parent
    for height in range(3, 9):
        txs = tuple(make_transfer(ALICE, n, ALICE.pubkey, 1) for n in range(20))  # ~3 kB per block
        prev = make_block(prev.hash, height, prev.header.time + 60, txs)
        blocks.append(prev)
    limit = 3 * blocks[0].size + 100
    monkeypatch.setattr(chainstate_module, "MAX_ORPHAN_BYTES", limit)
    for block in blocks:
        assert funded.accept_block(block, NOW).status == "orphan"
        funded.accept_block(block, NOW)  # a duplicate is not counted twice
    assert list(funded.orphans) == [b.hash for b in blocks[-3:]]
    assert sum(b.size for b in funded.orphans.values()) <= limit
    assert funded.orphan_bytes == sum(b.size for b in funded.orphans.values())
