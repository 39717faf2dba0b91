"""The mempool's policy over a real chainstate: nonce order per sender, gaps, replacement by fee,
relay fee, chain length, the byte limit with eviction, template order by fee rate within nonce
order, and re-admission of a reorg's disconnected transactions (which then get mined again)."""

from __future__ import annotations

import pytest

from hashgrad.chain.state import get_account
from hashgrad.errors import HashgradError
from hashgrad.node import mempool as mempool_module
from hashgrad.node.ledger import Ledger
from hashgrad.node.mempool import Mempool
from support.ledger import ALICE, BOB, CAROL, FEE, NOW, PARAMS, make_block, make_child, make_key, make_transfer, mine

TX_SIZE = 155  # a signed transfer


def refuse_reason(mempool: Mempool, tx) -> str:
    count = len(mempool)
    with pytest.raises(HashgradError) as info:
        mempool.add(tx)
    assert len(mempool) == count
    return info.value.reason


@pytest.fixture
def rich(funded):
    """ALICE, BOB and CAROL each hold a block maker reward."""
    mine(funded, payout=BOB.pubkey)
    mine(funded, payout=CAROL.pubkey)
    return funded


def test_add_keeps_nonce_order_per_sender(funded):
    mempool = Mempool(PARAMS, funded)
    txs = [make_transfer(ALICE, n, BOB.pubkey, 1_000 + n) for n in range(4)]
    for tx in txs:
        mempool.add(tx)
    assert mempool.get_sender_chain(ALICE.pubkey) == txs
    assert mempool.get_next_nonce(ALICE.pubkey) == 4
    assert mempool.select_for_block(PARAMS.max_block_size) == txs
    assert refuse_reason(mempool, txs[2]) == "txn-already-in-mempool"


def test_invalid_bad_txns_nonce_gap(funded):
    mempool = Mempool(PARAMS, funded)
    assert refuse_reason(mempool, make_transfer(ALICE, 1, BOB.pubkey, 1_000)) == "bad-txns-nonce-gap"
    mempool.add(make_transfer(ALICE, 0, BOB.pubkey, 1_000))
    assert refuse_reason(mempool, make_transfer(ALICE, 2, BOB.pubkey, 1_000)) == "bad-txns-nonce-gap"


def test_invalid_bad_txns_balance_across_pending_chain(funded):
    mempool = Mempool(PARAMS, funded)
    balance = get_account(funded, ALICE.pubkey).balance
    mempool.add(make_transfer(ALICE, 0, BOB.pubkey, balance - 2 * FEE))
    assert refuse_reason(mempool, make_transfer(ALICE, 1, BOB.pubkey, FEE)) == "bad-txns-balance"


def test_replacement_only_at_higher_fee(funded):
    mempool = Mempool(PARAMS, funded)
    original = make_transfer(ALICE, 0, BOB.pubkey, 1_000, fee=2 * FEE)
    follower = make_transfer(ALICE, 1, BOB.pubkey, 1_000)
    mempool.add(original)
    mempool.add(follower)
    for fee in (2 * FEE, 2 * FEE - 1):  # equal or lower fee: refused
        assert refuse_reason(mempool, make_transfer(ALICE, 0, CAROL.pubkey, 5, fee=fee)) == "txn-mempool-conflict"
    better = make_transfer(ALICE, 0, CAROL.pubkey, 5, fee=2 * FEE + 1)
    mempool.add(better)
    assert original.txid not in mempool and better.txid in mempool
    assert mempool.get_sender_chain(ALICE.pubkey) == [better, follower]
    assert mempool.total_bytes == 2 * TX_SIZE


def test_replacement_refused_when_followers_no_longer_fit(funded):
    mempool = Mempool(PARAMS, funded)
    balance = get_account(funded, ALICE.pubkey).balance
    mempool.add(make_transfer(ALICE, 0, BOB.pubkey, 1_000))
    mempool.add(make_transfer(ALICE, 1, BOB.pubkey, balance - 1_000 - 3 * FEE))
    greedy = make_transfer(ALICE, 0, BOB.pubkey, 1_000 + FEE, fee=2 * FEE)  # leaves too little for nonce 1
    assert refuse_reason(mempool, greedy) == "bad-txns-balance"


def test_invalid_min_relay_fee_not_met(funded):
    mempool = Mempool(PARAMS, funded, min_fee_rate=2)
    assert (
        refuse_reason(mempool, make_transfer(ALICE, 0, BOB.pubkey, 1_000, fee=2 * TX_SIZE - 1))
        == "min-relay-fee-not-met"
    )
    mempool.add(make_transfer(ALICE, 0, BOB.pubkey, 1_000, fee=2 * TX_SIZE))


def test_invalid_too_long_mempool_chain(funded):
    mempool = Mempool(PARAMS, funded)
    limit = mempool_module.MAX_PENDING_PER_SENDER
    for nonce in range(limit):
        mempool.add(make_transfer(ALICE, nonce, BOB.pubkey, 1))
    assert refuse_reason(mempool, make_transfer(ALICE, limit, BOB.pubkey, 1)) == "too-long-mempool-chain"
    # Replacing a pending nonce is still possible at the limit.
    mempool.add(make_transfer(ALICE, limit - 1, BOB.pubkey, 1, fee=FEE + 1))


def test_invalid_mempool_full_evicts_lowest_fee_rate_tail(rich):
    mempool = Mempool(PARAMS, rich, max_bytes=4 * TX_SIZE)
    alice = [make_transfer(ALICE, n, BOB.pubkey, 1, fee=5 * FEE) for n in range(2)]
    bob = [make_transfer(BOB, 0, CAROL.pubkey, 1, fee=2 * FEE), make_transfer(BOB, 1, CAROL.pubkey, 1, fee=FEE)]
    for tx in alice + bob:
        mempool.add(tx)
    carol = make_transfer(CAROL, 0, ALICE.pubkey, 1, fee=3 * FEE)
    mempool.add(carol)  # the pool is over its bytes: BOB's tail (lowest rate) goes
    assert bob[1].txid not in mempool and {tx.txid for tx in alice + bob[:1] + [carol]} <= set(mempool.entries)
    assert mempool.total_bytes <= mempool.max_bytes
    cheap = make_transfer(CAROL, 1, ALICE.pubkey, 1, fee=FEE)  # the lowest rate of all: refused itself
    assert refuse_reason(mempool, cheap) == "mempool-full"
    assert mempool.get_sender_chain(CAROL.pubkey) == [carol]


def test_select_for_block_by_fee_rate_within_nonce_order(rich):
    mempool = Mempool(PARAMS, rich)
    a0 = make_transfer(ALICE, 0, BOB.pubkey, 1, fee=FEE)
    a1 = make_transfer(ALICE, 1, BOB.pubkey, 1, fee=9 * FEE)  # rich, but behind a poor nonce 0
    b0 = make_transfer(BOB, 0, CAROL.pubkey, 1, fee=5 * FEE)
    b1 = make_transfer(BOB, 1, CAROL.pubkey, 1, fee=2 * FEE)
    c0 = make_transfer(CAROL, 0, ALICE.pubkey, 1, fee=3 * FEE)
    for tx in (a0, a1, b0, b1, c0):
        mempool.add(tx)
    order = mempool.select_for_block(PARAMS.max_block_size)
    assert order == [b0, c0, b1, a0, a1]
    assert mempool.select_for_block(2 * TX_SIZE) == [b0, c0]
    # The chosen order is valid as a block: every sender's nonces in sequence.
    mine(rich, tuple(order))


def test_update_for_chain_change_drops_mined_transactions(funded):
    ledger_mempool = Mempool(PARAMS, funded)
    txs = [make_transfer(ALICE, n, BOB.pubkey, 1_000) for n in range(3)]
    for tx in txs:
        ledger_mempool.add(tx)
    block = mine(funded, tuple(txs[:2]))
    ledger_mempool.update_for_chain_change([], [block])
    assert list(ledger_mempool.entries) == [txs[2].txid]


def test_reorg_returns_transactions_to_mempool_and_mines_them_again(tmp_path):
    clock = [NOW]
    ledger = Ledger(PARAMS, tmp_path / "node", clock=lambda: clock[0])
    try:
        ledger.generate(1, ALICE.pubkey)
        fork = ledger.chainstate.tip
        sent = [make_transfer(ALICE, n, BOB.pubkey, 10_000 + n) for n in range(3)]
        for tx in sent:
            ledger.submit_transaction(tx)
        ledger.generate(1, CAROL.pubkey)
        assert len(ledger.mempool) == 0 and ledger.chainstate.get_transaction(sent[0].txid) is not None
        # A longer branch from the fork, without the transfers, takes over.
        b2 = make_child(ledger.chainstate, parent_hash=fork.hash, extra=b"rival")
        b3 = make_block(b2.hash, 3, b2.header.time + 60)
        ledger.submit_block(b2)
        result = ledger.submit_block(b3)
        assert [b.hash for b in result.connected] == [b2.hash, b3.hash] and len(result.disconnected) == 1
        assert [tx.txid for tx in ledger.mempool.get_sender_chain(ALICE.pubkey)] == [tx.txid for tx in sent]
        assert ledger.chainstate.get_transaction(sent[0].txid) is None
        clock[0] += 600
        mined = ledger.generate(1, CAROL.pubkey)
        assert len(ledger.mempool) == 0
        for tx in sent:
            found = ledger.chainstate.get_transaction(tx.txid)
            assert found is not None and found[1] == mined[0]
        assert get_account(ledger.chainstate, BOB.pubkey).balance == sum(10_000 + n for n in range(3))
        assert ledger.compute_supply_audit().is_balanced
    finally:
        ledger.close()


def test_many_senders_fill_template(rich):
    keys = [make_key(100 + i) for i in range(5)]
    mine(rich, tuple(make_transfer(ALICE, i, k.pubkey, 100_000) for i, k in enumerate(keys)))
    mempool = Mempool(PARAMS, rich)
    for k in keys:
        mempool.add(make_transfer(k, 0, ALICE.pubkey, 1, fee=FEE + keys.index(k)))
    chosen = mempool.select_for_block(PARAMS.max_block_size)
    assert [tx.sender for tx in chosen] == [k.pubkey for k in reversed(keys)]
