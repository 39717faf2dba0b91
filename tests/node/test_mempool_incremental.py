"""Mempool re-admission after a tip change is incremental: only the senders the blocks touched.

Before the fix every tip change re-admitted every pending transaction (signature check and the
sender's chain replayed for each, under the ledger lock): 1,024 transactions in 4 sender chains cost
1.3 s per block. The counts below are of real `apply_transaction` calls, wrapped to be counted.
"""

from __future__ import annotations

from hashgrad.chain.state import get_account
from hashgrad.node import mempool as mempool_module
from hashgrad.node.mempool import Mempool
from support.ledger import ALICE, BOB, CAROL, FEE, PARAMS, make_key, make_transfer, mine


def count_applies(monkeypatch) -> list[int]:
    calls = [0]
    real = mempool_module.apply_transaction

    def counted(*args):
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(mempool_module, "apply_transaction", counted)
    return calls


def test_tip_change_rechecks_only_touched_senders(funded, monkeypatch):
    keys = [make_key(200 + i) for i in range(12)]
    mine(funded, tuple(make_transfer(ALICE, i, k.pubkey, 1_000_000) for i, k in enumerate(keys)))
    mempool = Mempool(PARAMS, funded)
    for key in keys:
        for nonce in range(10):
            mempool.add(make_transfer(key, nonce, BOB.pubkey, 10))
    mine_tx = make_transfer(ALICE, len(keys), CAROL.pubkey, 5)
    calls = count_applies(monkeypatch)
    block = mine(funded, (mine_tx,))
    mempool.update_for_chain_change([], [block])
    assert len(mempool) == 120
    # ALICE (touched) has nothing pending; the sweep re-checks at most SWEEP_SENDERS untouched chains
    assert calls[0] <= 8 * 10, f"{calls[0]} re-applications for a block that touched no pending sender"
    assert mempool_module.SWEEP_SENDERS <= 8


def test_block_spending_a_senders_funds_drops_its_now_invalid_tail(funded):
    key = make_key(300)
    mine(funded, (make_transfer(ALICE, 0, key.pubkey, 10 * FEE + 500),))
    mempool = Mempool(PARAMS, funded)
    pending = [make_transfer(key, n, BOB.pubkey, 100) for n in range(3)]
    for tx in pending:
        mempool.add(tx)
    # the same sender spends (nearly) everything in a block the mempool never saw
    rival = make_transfer(key, 0, CAROL.pubkey, get_account(funded, key.pubkey).balance - 2 * FEE, fee=FEE + 1)
    block = mine(funded, (rival,))
    mempool.update_for_chain_change([], [block])
    assert mempool.get_sender_chain(key.pubkey) == []  # nonce 0 conflicts; 1 and 2 cannot follow without funds


def test_sweep_reaches_every_untouched_sender_eventually(funded):
    keys = [make_key(400 + i) for i in range(3 * mempool_module.SWEEP_SENDERS)]
    mine(funded, tuple(make_transfer(ALICE, i, k.pubkey, 100_000) for i, k in enumerate(keys)))
    mempool = Mempool(PARAMS, funded)
    for key in keys:
        mempool.add(make_transfer(key, 0, BOB.pubkey, 1))
    swept = set()
    for _ in range(3):
        swept |= set(mempool._next_sweep(set()))
    assert swept == {k.pubkey for k in keys}
