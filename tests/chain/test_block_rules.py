"""One test per header and block rule of hashgrad's ledger, each asserting the exact reason code
through the real chainstate (`accept_block`), plus the CVE-2012-2459 twin and remembered failures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hashgrad.chain.block import Block, parse_block
from hashgrad.chain.genesis import compute_block_version
from hashgrad.chain.header import VERSION_AUXPOW
from hashgrad.chain.params import HASHGRAD_CHAIN_ID, MAX_FUTURE_BLOCK_TIME
from hashgrad.chain.state import get_account
from hashgrad.chain.tx import ZERO_SIG, Transaction, TxKind, make_coinbase
from hashgrad.errors import BlockError, HashgradError
from hashgrad.store.chainstate import ChainState
from support.ledger import ALICE, BOB, NOW, PARAMS, compute_maker_reward, make_block, make_child, make_transfer, mine


def reject_reason(chainstate: ChainState, block: Block, now: int | None = NOW) -> str:
    """The reason accept_block gives for refusing `block`; the active chain must not move."""
    tip = chainstate.tip.hash
    with pytest.raises(HashgradError) as info:
        chainstate.accept_block(block, now)
    assert chainstate.tip.hash == tip
    return info.value.reason


def two_transfers() -> tuple[Transaction, Transaction]:
    return (make_transfer(ALICE, 0, BOB.pubkey, 1_000), make_transfer(ALICE, 1, BOB.pubkey, 2_000))


# ---------------------------------------------------------------- header rules


def test_accept_block_connects_valid_child(funded):
    block = mine(funded)
    assert funded.height == 2 and funded.tip.hash == block.hash


def test_invalid_bad_chain_id(funded):
    version = ((HASHGRAD_CHAIN_ID + 1) << 16) | 1
    assert reject_reason(funded, make_child(funded, version=version)) == "bad-chain-id"


def test_invalid_high_hash(funded):
    assert reject_reason(funded, make_child(funded, valid_pow=False)) == "high-hash"


def test_invalid_auxpow_missing(funded):
    version = compute_block_version(PARAMS, auxpow=True)
    assert version & VERSION_AUXPOW
    assert reject_reason(funded, make_child(funded, version=version)) == "auxpow-missing"


def test_invalid_bad_diffbits(funded):
    harder = 0x2000FFFF  # a valid target below regtest's powLimit, so only the difficulty rule fails
    assert reject_reason(funded, make_child(funded, bits=harder)) == "bad-diffbits"


def test_invalid_time_too_old(funded):
    for _ in range(11):
        mine(funded)
    mtp = funded.compute_median_time_past(funded.tip)
    assert reject_reason(funded, make_child(funded, time=mtp)) == "time-too-old"
    assert funded.accept_block(make_child(funded, time=mtp + 1), NOW).status == "connected"


def test_invalid_time_too_new(funded):
    late = make_child(funded, time=NOW + MAX_FUTURE_BLOCK_TIME + 1)
    assert reject_reason(funded, late, now=NOW) == "time-too-new"
    # Not remembered as invalid: once the clock catches up the same block is accepted.
    assert funded.accept_block(late, NOW + 1).status == "connected"
    assert (
        funded.accept_block(make_child(funded, time=NOW + MAX_FUTURE_BLOCK_TIME + 60), NOW + 60).status == "connected"
    )


# ---------------------------------------------------------------- body rules


def test_invalid_bad_blk_length(funded):
    # Sixteen 64 kB payloads: over 1 MB, and the size rule is checked before anything inside.
    filler = tuple(Transaction(1, TxKind.TRANSFER, ALICE.pubkey, n, 0, b"\x00" * 64_000) for n in range(16))
    block = make_child(funded, filler)
    assert block.size > PARAMS.max_block_size
    assert reject_reason(funded, block) == "bad-blk-length"
    with pytest.raises(BlockError) as info:
        parse_block(block.serialize(), PARAMS.max_block_size)
    assert info.value.reason == "bad-blk-length"


@pytest.mark.parametrize("txs", ["empty", "transfer-first"])
def test_invalid_bad_cb_missing(funded, txs):
    body = () if txs == "empty" else (make_transfer(ALICE, 0, BOB.pubkey, 1_000),)
    assert reject_reason(funded, make_child(funded, body, with_coinbase=False)) == "bad-cb-missing"


def test_invalid_bad_cb_multiple(funded):
    second = make_coinbase(funded.height + 1, BOB.pubkey, 0, b"second")
    assert reject_reason(funded, make_child(funded, (second,))) == "bad-cb-multiple"


def test_invalid_bad_txnmrklroot(funded):
    assert reject_reason(funded, make_child(funded, merkle_root=b"\x11" * 32)) == "bad-txnmrklroot"


def test_invalid_bad_txns_duplicate(funded):
    first, second = two_transfers()
    honest = make_child(funded, (first, second))  # three txs: the last one is paired with itself
    mutated = Block(honest.header, honest.txs + (second,))
    assert mutated.compute_merkle_root() == (honest.header.merkle_root, True)
    assert reject_reason(funded, mutated) == "bad-txns-duplicate"


@pytest.mark.parametrize("mutation", ["bad-txnmrklroot", "bad-txns-duplicate"])
def test_mutated_block_does_not_poison_honest_twin(funded, mutation):
    first, second = two_transfers()
    honest = make_child(funded, (first, second))
    txs = honest.txs[:-1] if mutation == "bad-txnmrklroot" else honest.txs + (second,)
    mutated = Block(honest.header, txs)
    assert mutated.hash == honest.hash
    assert reject_reason(funded, mutated) == mutation
    assert funded.accept_block(honest, NOW).status == "connected"
    assert funded.tip.hash == honest.hash


@pytest.mark.parametrize("field", ["fee", "version", "sender", "signature"])
def test_invalid_bad_cb_form(funded, field):
    good = make_coinbase(funded.height + 1, ALICE.pubkey, compute_maker_reward(PARAMS, funded.height + 1))
    changes = {
        "fee": {"fee": 1},
        "version": {"version": 2},
        "sender": {"sender": BOB.pubkey},
        "signature": {"signature": b"\x01" + ZERO_SIG[1:]},
    }[field]
    coinbase = replace(good, **changes)
    assert coinbase.is_coinbase()
    assert reject_reason(funded, make_child(funded, coinbase=coinbase)) == "bad-cb-form"


def test_invalid_bad_cb_height(funded):
    height = funded.height + 1
    coinbase = make_coinbase(height + 1, ALICE.pubkey, compute_maker_reward(PARAMS, height))
    assert reject_reason(funded, make_child(funded, coinbase=coinbase)) == "bad-cb-height"


@pytest.mark.parametrize("delta", [1, -1])
def test_invalid_bad_cb_amount(funded, delta):
    height = funded.height + 1
    fee_tx = make_transfer(ALICE, 0, BOB.pubkey, 1_000)
    amount = compute_maker_reward(PARAMS, height) + fee_tx.fee + delta
    coinbase = make_coinbase(height, ALICE.pubkey, amount)
    assert reject_reason(funded, make_child(funded, (fee_tx,), coinbase=coinbase)) == "bad-cb-amount"


def test_coinbase_collects_fees(funded):
    block = mine(funded, two_transfers(), payout=BOB.pubkey)
    fees = sum(tx.fee for tx in block.txs[1:])
    assert get_account(funded, BOB.pubkey).balance == compute_maker_reward(PARAMS, 2) + fees + 3_000


# ---------------------------------------------------------------- remembered failures


def test_invalid_bad_prevblk_after_failed_connect(funded):
    bad = make_child(funded, coinbase=make_coinbase(2, ALICE.pubkey, 1))  # fails when applied
    assert reject_reason(funded, bad) == "bad-cb-amount"
    child = make_child(funded, parent_hash=bad.hash)
    assert reject_reason(funded, child) == "bad-prevblk"
    assert reject_reason(funded, make_block(child.hash, 4, child.header.time + 60)) == "bad-prevblk"


def test_invalid_bad_prevblk_after_failed_body_check(funded):
    bad = make_child(funded, coinbase=replace(make_coinbase(2, ALICE.pubkey, compute_maker_reward(PARAMS, 2)), fee=1))
    assert reject_reason(funded, bad) == "bad-cb-form"
    child = make_block(bad.hash, 3, bad.header.time + 60)
    assert reject_reason(funded, child) == "bad-prevblk"
    assert child.hash not in funded.orphans
    assert reject_reason(funded, make_block(child.hash, 4, child.header.time + 60)) == "bad-prevblk"


@pytest.mark.parametrize("failure", ["bad-cb-amount", "bad-cb-form", "time-too-old"])
def test_invalid_duplicate_invalid(funded, failure):
    height = funded.height + 1
    if failure == "bad-cb-amount":
        bad = make_child(funded, coinbase=make_coinbase(height, ALICE.pubkey, 1))
    elif failure == "bad-cb-form":
        bad = make_child(funded, coinbase=replace(make_coinbase(height, ALICE.pubkey, 0), version=2))
    else:
        bad = make_child(funded, time=funded.tip.time)
    assert reject_reason(funded, bad) == failure
    assert reject_reason(funded, bad) == "duplicate-invalid"


def test_failed_connect_remembered_across_reopen(funded):
    bad = make_child(funded, coinbase=make_coinbase(2, ALICE.pubkey, 1))
    assert reject_reason(funded, bad) == "bad-cb-amount"
    datadir = funded.datadir
    funded.close()
    reopened = ChainState(PARAMS, datadir)
    try:
        assert reopened.height == 1
        assert reject_reason(reopened, bad) == "duplicate-invalid"
        assert reject_reason(reopened, make_child(reopened, parent_hash=bad.hash)) == "bad-prevblk"
    finally:
        reopened.close()
