"""Tests for hashgrad.wallet.transfer: recipient parsing, default fee, funds check, signed transfers.

The default fee is checked against the real mempool of a real regtest ledger (in a temporary
datadir): it must be exactly the minimum relay fee, so one base unit less is refused.
"""

from __future__ import annotations

import pytest

from hashgrad.chain.bech32 import Encoding, bech32_encode, convert_bits, encode_address
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import COIN, HASHGRAD_REGTEST
from hashgrad.chain.state import get_account
from hashgrad.chain.tx import decode_payload, is_valid_signature, make_transfer, parse_transaction
from hashgrad.errors import MempoolError, WalletError
from hashgrad.node.ledger import Ledger
from hashgrad.node.replies import Account
from hashgrad.wallet.transfer import (
    build_transfer,
    check_sufficient_funds,
    compute_default_fee,
    compute_transfer_fee,
    compute_transfer_size,
    parse_recipient,
)

PARAMS = HASHGRAD_REGTEST


def _summary(balance: int, pending_balance: int | None = None, nonce: int = 0, pending_nonce: int | None = None):
    return Account(
        "rhg1x",
        balance,
        nonce,
        nonce if pending_nonce is None else pending_nonce,
        balance if pending_balance is None else pending_balance,
        0,
        1,
        stake=0,
        registrations={},
        json={},
    )


def test_parse_recipient_of_this_network():
    key = SigningKey.generate()
    assert parse_recipient(PARAMS, encode_address("rhg", key.pubkey)) == key.pubkey


@pytest.mark.parametrize(
    "address",
    [
        "",
        "rhg1",
        "hello",
        encode_address("dhg", b"\x02" * 32),
        encode_address("hg", b"\x02" * 32),
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",  # a valid Bitcoin segwit address
    ],
)
def test_parse_recipient_rejects(address):
    with pytest.raises(WalletError) as info:
        parse_recipient(PARAMS, address)
    assert info.value.reason == "bad-address"


def test_parse_recipient_rejects_a_key_off_the_curve():
    not_a_point = b"\xff" * 32  # above the field size: no x-only public key
    address = bech32_encode("rhg", [0] + convert_bits(not_a_point, 8, 5, True), Encoding.BECH32M)
    with pytest.raises(WalletError) as info:
        parse_recipient(PARAMS, address)
    assert info.value.reason == "bad-address"


def test_transfer_size_is_that_of_any_signed_transfer():
    key = SigningKey.generate()
    for nonce, amount, fee in ((0, 1, 0), (2**64 - 1, 2**64 - 1, 2**64 - 1), (7, COIN, 155)):
        assert (
            len(make_transfer(key, PARAMS.magic, nonce, key.pubkey, amount, fee).serialize()) == compute_transfer_size()
        )
    assert compute_default_fee(compute_transfer_size()) == compute_transfer_size() == compute_transfer_fee(None)
    assert compute_transfer_fee(0) == 0


def test_funds_check_counts_fee_and_pending_spends():
    check_sufficient_funds(_summary(1000), 900, 100)
    with pytest.raises(WalletError) as info:
        check_sufficient_funds(_summary(1000), 901, 100)
    assert info.value.reason == "insufficient-funds"
    with pytest.raises(WalletError) as info:
        check_sufficient_funds(_summary(1000, pending_balance=500), 450, 100)
    assert info.value.reason == "insufficient-funds"
    assert "pending out 0.00000500" in info.value.detail


def test_build_transfer_signs_for_this_network_at_the_pending_nonce():
    key, recipient = SigningKey.generate(), SigningKey.generate().pubkey
    tx = build_transfer(key, PARAMS, _summary(10 * COIN, nonce=3, pending_nonce=5), recipient, COIN, 155)
    parsed = parse_transaction(tx.serialize())
    assert parsed == tx and tx.nonce == 5 and tx.fee == 155 and tx.sender == key.pubkey
    payload = decode_payload(tx)
    assert (payload.recipient, payload.amount) == (recipient, COIN)
    assert is_valid_signature(tx, PARAMS.magic)
    assert not is_valid_signature(tx, b"\x00\x00\x00\x00")


def test_default_fee_is_exactly_the_mempool_minimum(tmp_path):
    key, recipient = SigningKey.generate(), SigningKey.generate().pubkey
    ledger = Ledger(PARAMS, tmp_path)
    try:
        ledger.generate(1, key.pubkey)
        account = get_account(ledger.chainstate, key.pubkey)
        summary = _summary(account.balance, nonce=account.nonce)
        fee = compute_transfer_fee(None)
        too_low = build_transfer(key, PARAMS, summary, recipient, COIN, fee - 1)
        with pytest.raises(MempoolError) as info:
            ledger.submit_transaction(too_low)
        assert info.value.reason == "min-relay-fee-not-met"
        tx = build_transfer(key, PARAMS, summary, recipient, COIN, fee)
        assert ledger.submit_transaction(tx) == tx.txid
    finally:
        ledger.close()
