"""One test per transaction rule, each asserting the exact reason code twice: in a block through the
chainstate (consensus) and at the door of the mempool (which must refuse with the same code)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hashgrad.chain.keys import is_valid_pubkey
from hashgrad.chain.params import HASHGRAD_MAIN, MAX_MONEY
from hashgrad.chain.state import get_account
from hashgrad.chain.tx import TX_VERSION, Transaction, TransferPayload, TxKind, sign_transaction
from hashgrad.chain.validation import check_transaction
from hashgrad.errors import ConsensusError, HashgradError, TxError
from hashgrad.node.mempool import Mempool
from hashgrad.store.chainstate import ChainState
from support.ledger import (
    ALICE,
    AUX_RAND,
    BOB,
    CAROL,
    FEE,
    NOW,
    PARAMS,
    compute_maker_reward,
    make_child,
    make_transfer,
    mine,
    with_params,
)


def reject_reasons(chainstate: ChainState, tx: Transaction) -> tuple[str, str]:
    """(reason of a block carrying tx, reason of the mempool); neither may change the chain or pool."""
    tip = chainstate.tip.hash
    with pytest.raises(HashgradError) as in_block:
        chainstate.accept_block(make_child(chainstate, (tx,)), NOW)
    assert chainstate.tip.hash == tip
    mempool = Mempool(chainstate.params, chainstate, min_fee_rate=0)
    with pytest.raises(HashgradError) as in_pool:
        mempool.add(tx)
    assert len(mempool) == 0
    return in_block.value.reason, in_pool.value.reason


def signed(
    kind: int = TxKind.TRANSFER,
    payload: bytes | None = None,
    version: int = TX_VERSION,
    nonce: int = 0,
    fee: int = FEE,
    key=ALICE,
    magic: bytes = PARAMS.magic,
) -> Transaction:
    """A transaction correctly signed over whatever fields it is given."""
    payload = TransferPayload(BOB.pubkey, 1_000).serialize() if payload is None else payload
    unsigned = Transaction(version, kind, key.pubkey, nonce, fee, payload)
    return replace(unsigned, signature=key.sign(unsigned.compute_sighash(magic), AUX_RAND))


def test_apply_transfer_moves_amount_and_fee(funded):
    start = get_account(funded, ALICE.pubkey).balance
    mine(
        funded,
        (make_transfer(ALICE, 0, BOB.pubkey, 5_000), make_transfer(ALICE, 1, CAROL.pubkey, 7_000)),
        payout=CAROL.pubkey,
    )
    assert get_account(funded, ALICE.pubkey).balance == start - 12_000 - 2 * FEE
    assert get_account(funded, ALICE.pubkey).nonce == 2
    assert get_account(funded, BOB.pubkey).balance == 5_000
    assert get_account(funded, CAROL.pubkey).balance == 7_000 + compute_maker_reward(PARAMS, 2) + 2 * FEE


def test_invalid_bad_txns_version(funded):
    assert reject_reasons(funded, signed(version=2)) == ("bad-txns-version", "bad-txns-version")


def test_invalid_bad_txns_oversize(tmp_path):
    params = with_params(max_tx_size=154)
    chainstate = ChainState(params, tmp_path / "small-tx")
    try:
        tx = make_transfer(ALICE, 0, BOB.pubkey, 1_000)
        assert tx.size == 155
        assert reject_reasons(chainstate, tx) == ("bad-txns-oversize", "bad-txns-oversize")
    finally:
        chainstate.close()


def test_invalid_bad_txns_kind(funded):
    assert reject_reasons(funded, signed(kind=200, payload=b"")) == ("bad-txns-kind", "bad-txns-kind")


def test_invalid_bad_txns_payload(funded):
    bad = signed(payload=TransferPayload(BOB.pubkey, 1).serialize() + b"\x00")
    assert reject_reasons(funded, bad) == ("bad-txns-payload", "bad-txns-payload")


@pytest.mark.parametrize("how", ["flipped-bit", "other-network", "other-key", "zero"])
def test_invalid_bad_txns_sig(funded, how):
    tx = make_transfer(ALICE, 0, BOB.pubkey, 1_000)
    if how == "flipped-bit":
        tx = replace(tx, signature=bytes([tx.signature[0] ^ 1]) + tx.signature[1:])
    elif how == "other-network":
        tx = make_transfer(ALICE, 0, BOB.pubkey, 1_000, magic=HASHGRAD_MAIN.magic)
        assert tx.serialize_unsigned() == make_transfer(ALICE, 0, BOB.pubkey, 1_000).serialize_unsigned()
    elif how == "other-key":
        tx = replace(tx, signature=BOB.sign(tx.compute_sighash(PARAMS.magic), AUX_RAND))
    else:
        tx = replace(tx, signature=b"\x00" * 64)
    assert reject_reasons(funded, tx) == ("bad-txns-sig", "bad-txns-sig")


def test_invalid_bad_txns_nonce(funded):
    assert reject_reasons(funded, make_transfer(ALICE, 1, BOB.pubkey, 1_000))[0] == "bad-txns-nonce"
    first = make_transfer(ALICE, 0, BOB.pubkey, 1_000)
    mine(funded, (first,))
    # The very same signed transaction again: a block replaying it fails on the used nonce.
    assert reject_reasons(funded, first) == ("bad-txns-nonce", "txn-already-known")
    reused = make_transfer(ALICE, 0, CAROL.pubkey, 5)
    assert reject_reasons(funded, reused) == ("bad-txns-nonce", "bad-txns-nonce")


def test_invalid_bad_txns_nonce_within_block(funded):
    txs = (make_transfer(ALICE, 0, BOB.pubkey, 1_000), make_transfer(ALICE, 0, CAROL.pubkey, 1_000))
    with pytest.raises(ConsensusError) as info:
        funded.accept_block(make_child(funded, txs), NOW)
    assert info.value.reason == "bad-txns-nonce"


@pytest.mark.parametrize("case", ["amount", "amount-plus-fee", "fee", "empty-account"])
def test_invalid_bad_txns_balance(funded, case):
    balance = get_account(funded, ALICE.pubkey).balance
    key, amount, fee = {
        "amount": (ALICE, balance + 1, FEE),
        "amount-plus-fee": (ALICE, balance - FEE + 1, FEE),
        "fee": (ALICE, 1, balance + 1),
        "empty-account": (BOB, 1, FEE),
    }[case]
    tx = make_transfer(key, 0, CAROL.pubkey, amount, fee=fee)
    assert reject_reasons(funded, tx) == ("bad-txns-balance", "bad-txns-balance")


def test_apply_transfer_spends_exact_balance(funded):
    balance = get_account(funded, ALICE.pubkey).balance
    mine(funded, (make_transfer(ALICE, 0, BOB.pubkey, balance - FEE),))
    assert get_account(funded, ALICE.pubkey) == type(get_account(funded, ALICE.pubkey))(0, 1)


@pytest.mark.parametrize("amount", [0, MAX_MONEY + 1])
def test_invalid_bad_txns_amount(funded, amount):
    tx = make_transfer(ALICE, 0, BOB.pubkey, amount)
    assert reject_reasons(funded, tx) == ("bad-txns-amount", "bad-txns-amount")


def test_invalid_bad_txns_recipient(funded):
    off_curve = next(x.to_bytes(32, "big") for x in range(1, 100) if not is_valid_pubkey(x.to_bytes(32, "big")))
    for recipient in (b"\xff" * 32, off_curve):  # x >= p, and an x with no point on the curve
        tx = make_transfer(ALICE, 0, recipient, 1_000)
        assert reject_reasons(funded, tx) == ("bad-txns-recipient", "bad-txns-recipient")


def test_invalid_bad_txns_fee_outofrange():
    tx = make_transfer(ALICE, 0, BOB.pubkey, 1, fee=MAX_MONEY + 1)
    with pytest.raises(TxError) as info:
        check_transaction(PARAMS, tx)
    assert info.value.reason == "bad-txns-fee-outofrange"


def test_check_transaction_accepts_signed_transfer():
    check_transaction(PARAMS, make_transfer(ALICE, 0, BOB.pubkey, 1))
    check_transaction(
        PARAMS, sign_transaction(ALICE, PARAMS.magic, TxKind.TRANSFER, 7, 0, TransferPayload(BOB.pubkey, 1).serialize())
    )
