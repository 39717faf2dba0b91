"""Tests of what makes block connect fast without changing a rule: the encodings and payload a
Transaction keeps once computed, the bounded cache of parsed public keys, the batched state reads
that warm a StateOverlay, and signature checks spread over threads (same first failure, same state)."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from coincurve import PublicKeyXOnly

from hashgrad.chain.hashes import sha256d
from hashgrad.chain.keys import (
    PUBKEY_CACHE_SIZE,
    clear_pubkey_cache,
    is_valid_pubkey,
    is_valid_schnorr,
    parse_xonly_pubkey,
)
from hashgrad.chain.state import StateOverlay, account_key
from hashgrad.chain.tx import TransferPayload, decode_payload, parse_transaction
from hashgrad.chain.validation import PARALLEL_MIN_TXS, check_block_body
from hashgrad.errors import HashgradError, TxError
from hashgrad.store.chainstate import MAX_SQL_VARIABLES, ChainState, compute_block_account_keys
from support.ledger import (
    ALICE,
    BOB,
    CAROL,
    NOW,
    PARAMS,
    dump_all,
    make_block,
    make_child,
    make_key,
    make_transfer,
    mine,
)

# ---------------------------------------------------------------- Transaction caches


def test_cached_encodings_match_the_bytes():
    data = make_transfer(ALICE, 3, BOB.pubkey, 500).serialize()
    tx = parse_transaction(data)
    assert tx.serialize() == data and tx.serialize() == data  # second read comes from the cache
    assert tx.serialize_unsigned() == data[:-64]
    assert tx.txid == sha256d(data) and tx.size == len(data)


def test_cached_payload_is_decoded_once_and_equals_a_fresh_decode():
    tx = make_transfer(ALICE, 0, BOB.pubkey, 700)
    first = decode_payload(tx)
    assert decode_payload(tx) is first
    assert first == TransferPayload.deserialize(tx.payload) == TransferPayload(BOB.pubkey, 700)


def test_cached_payload_cannot_diverge_from_replaced_bytes():
    tx = make_transfer(ALICE, 0, BOB.pubkey, 700)
    decode_payload(tx), tx.txid, tx.serialize()  # fill every cache of the original
    changed = replace(tx, payload=TransferPayload(CAROL.pubkey, 9).serialize())
    assert decode_payload(changed) == TransferPayload(CAROL.pubkey, 9)
    assert changed.serialize() != tx.serialize() and changed.txid == sha256d(changed.serialize())
    assert decode_payload(tx) == TransferPayload(BOB.pubkey, 700)


def test_failed_payload_decode_raises_every_time_and_is_not_kept():
    tx = replace(make_transfer(ALICE, 0, BOB.pubkey, 700), payload=b"\x01" * 39)
    for _ in range(2):
        with pytest.raises(TxError) as info:
            decode_payload(tx)
        assert info.value.reason == "bad-txns-payload"
    assert "decoded_payload" not in vars(tx)


def test_caches_leave_equality_and_hash_alone():
    tx = make_transfer(ALICE, 0, BOB.pubkey, 700)
    twin = parse_transaction(tx.serialize())
    decode_payload(tx), tx.txid
    assert tx == twin and hash(tx) == hash(twin)


# ---------------------------------------------------------------- parsed public keys


def test_cached_key_verifies_like_coincurve():
    clear_pubkey_cache()
    message = hashlib.sha256(b"m").digest()
    signature = ALICE.sign(message, b"\x00" * 32)
    for _ in range(2):  # a miss, then a hit
        assert is_valid_schnorr(ALICE.pubkey, message, signature)
        assert not is_valid_schnorr(ALICE.pubkey, message[::-1], signature)
        assert PublicKeyXOnly(ALICE.pubkey).verify(signature, message)
    assert parse_xonly_pubkey.cache_info().hits >= 1


def test_invalid_keys_are_refused_and_not_remembered():
    off_curve = next(x.to_bytes(32, "big") for x in range(1, 100) if not is_valid_pubkey(x.to_bytes(32, "big")))
    clear_pubkey_cache()  # the search above remembered the valid x coordinates it met
    assert not is_valid_pubkey(off_curve) and not is_valid_pubkey(b"\xff" * 32)
    assert not is_valid_schnorr(off_curve, b"m" * 32, b"\x01" * 64)
    assert parse_xonly_pubkey.cache_info().currsize == 0
    with pytest.raises(ValueError):
        parse_xonly_pubkey(off_curve)


def test_pubkey_cache_is_bounded():
    clear_pubkey_cache()
    assert parse_xonly_pubkey.cache_info().maxsize == PUBKEY_CACHE_SIZE
    valid = 0
    counter = 0
    while valid < PUBKEY_CACHE_SIZE + 100:
        valid += is_valid_pubkey(hashlib.sha256(counter.to_bytes(8, "little")).digest())
        counter += 1
    assert parse_xonly_pubkey.cache_info().currsize == PUBKEY_CACHE_SIZE
    clear_pubkey_cache()
    assert parse_xonly_pubkey.cache_info().currsize == 0


# ---------------------------------------------------------------- batched state reads


def test_get_many_returns_present_keys_across_chunks(funded):
    present = account_key(ALICE.pubkey)
    absent = [account_key(make_key(100 + i).pubkey) for i in range(MAX_SQL_VARIABLES + 20)]
    found = funded.get_many(absent[:MAX_SQL_VARIABLES] + [present] + absent[MAX_SQL_VARIABLES:])
    assert found == {present: funded.get(present)}


def test_prefetch_warms_the_overlay_with_the_base_values(funded):
    keys = [account_key(ALICE.pubkey), account_key(BOB.pubkey)]
    overlay = StateOverlay(funded)
    overlay.prefetch(keys)
    assert overlay.base_values == {keys[0]: funded.get(keys[0]), keys[1]: None}
    overlay.put(keys[1], b"\x01" * 16)
    overlay.prefetch(keys)  # never overwrites a known base value, never reads changes
    assert overlay.get(keys[1]) == b"\x01" * 16 and overlay.compute_undo() == {keys[1]: None}


def test_prefetch_is_a_no_op_over_a_plain_dict():
    overlay = StateOverlay({b"k": b"v"})
    overlay.prefetch([b"k"])
    assert overlay.base_values == {} and overlay.get(b"k") == b"v"


def test_compute_block_account_keys_lists_each_account_once():
    txs = (make_transfer(ALICE, 0, BOB.pubkey, 1), make_transfer(ALICE, 1, CAROL.pubkey, 1))
    block = make_block(b"\x00" * 32, 1, PARAMS.genesis_time + 60, txs, payout=BOB.pubkey)
    assert compute_block_account_keys(block) == [
        account_key(BOB.pubkey),
        account_key(ALICE.pubkey),
        account_key(CAROL.pubkey),
    ]


# ---------------------------------------------------------------- signatures over threads


def many_transfers(count: int) -> list:
    return [make_transfer(ALICE, i, make_key(1000 + i).pubkey, 1) for i in range(count)]


def body_reason(block, executor) -> str | None:
    try:
        check_block_body(PARAMS, block, executor)
    except HashgradError as exc:
        return exc.reason
    return None


def test_threaded_signature_checks_keep_the_first_failure():
    txs = many_transfers(PARALLEL_MIN_TXS + 40)
    bad_sig = replace(txs[100], signature=txs[101].signature)
    bad_version = replace(txs[400], version=2)
    parent, time_ = b"\x00" * 32, PARAMS.genesis_time + 60
    cases = {
        "bad-txns-sig": make_block(parent, 1, time_, [*txs[:100], bad_sig, *txs[101:400], bad_version, *txs[401:]]),
        "bad-txns-version": make_block(
            parent,
            1,
            time_,
            [
                *txs[:100],
                replace(txs[100], version=2),
                *txs[101:400],
                replace(txs[400], signature=txs[401].signature),
                *txs[401:],
            ],
        ),
        None: make_block(parent, 1, time_, txs),
    }
    with ThreadPoolExecutor(2) as executor:
        for reason, block in cases.items():
            assert body_reason(block, None) == reason
            assert body_reason(block, executor) == reason
    last_bad = make_block(parent, 1, time_, [*txs[:-1], replace(txs[-1], signature=txs[0].signature)])
    with ThreadPoolExecutor(2) as executor:
        assert body_reason(last_bad, executor) == "bad-txns-sig"


def test_threaded_chainstate_connects_like_a_single_core_one(tmp_path):
    states = [
        ChainState(PARAMS, tmp_path / "threads", verify_threads=2),
        ChainState(PARAMS, tmp_path / "inline", verify_threads=1),
    ]
    try:
        assert states[0].verifier is not None and states[1].verifier is None
        funding = mine(states[0], payout=ALICE.pubkey)
        states[1].accept_block(funding, NOW)
        block = make_child(states[0], many_transfers(PARALLEL_MIN_TXS + 10))
        bad = make_child(states[0], [*block.txs[1:-1], replace(block.txs[-1], signature=block.txs[1].signature)])
        for state in states:
            with pytest.raises(HashgradError) as info:
                state.accept_block(bad, NOW)
            assert info.value.reason == "bad-txns-sig"
            assert state.accept_block(block, NOW).status == "connected"
        assert dump_all(states[0]) == dump_all(states[1])
    finally:
        for state in states:
            state.close()
