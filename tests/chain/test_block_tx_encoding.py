"""Canonical encodings of the ledger's objects: decode(encode(x)) == x for every kind (hypothesis),
and untrusted bytes that are truncated, padded or non-canonical fail with DecodeError('bad-encoding')."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashgrad.chain.block import Block, parse_block
from hashgrad.chain.header import HEADER_SIZE, VERSION_AUXPOW, BlockHeader
from hashgrad.chain.state import Account, Supply, deserialize_undo, serialize_undo
from hashgrad.chain.tx import MAX_PAYLOAD_SIZE, CoinbasePayload, Transaction, TransferPayload, parse_transaction
from hashgrad.errors import DecodeError, HashgradError, TxError
from support.ledger import ALICE, BOB, PARAMS, make_block, make_transfer

U8 = st.integers(0, 0xFF)
U32 = st.integers(0, 0xFFFFFFFF)
U64 = st.integers(0, 2**64 - 1)
HASH = st.binary(min_size=32, max_size=32)
PAYLOAD = st.one_of(st.binary(max_size=300), st.integers(0xFD, MAX_PAYLOAD_SIZE).map(bytes))
MAX_BLOCK_BYTES = 4 * PARAMS.max_block_size

transactions = st.builds(Transaction, U8, U8, HASH, U64, U64, PAYLOAD, st.binary(min_size=64, max_size=64))
headers = st.builds(BlockHeader, st.integers(-(2**31), 2**31 - 1), HASH, HASH, U32, U32, U32)
plain_headers = headers.filter(lambda h: not h.is_auxpow())  # an auxpow-flagged header needs a proof after it
blocks = st.builds(Block, plain_headers, st.lists(transactions, max_size=4).map(tuple))
undo_records = st.dictionaries(st.binary(min_size=1, max_size=40), st.none() | st.binary(max_size=60), max_size=12)

FAST = settings(max_examples=60, deadline=None)


@FAST
@given(transactions)
def test_parse_transaction_roundtrip(tx):
    data = tx.serialize()
    assert parse_transaction(data) == tx
    assert parse_transaction(data).serialize() == data


@FAST
@given(st.builds(TransferPayload, HASH, U64))
def test_transfer_payload_roundtrip(payload):
    assert TransferPayload.deserialize(payload.serialize()) == payload


@FAST
@given(st.builds(CoinbasePayload, HASH, U64, st.binary(max_size=100)))
def test_coinbase_payload_roundtrip(payload):
    assert CoinbasePayload.deserialize(payload.serialize()) == payload


@FAST
@given(headers)
def test_block_header_roundtrip(header):
    data = header.serialize()
    assert len(data) == HEADER_SIZE
    assert BlockHeader.deserialize(data) == header


@settings(max_examples=30, deadline=None)
@given(blocks)
def test_parse_block_roundtrip(block):
    data = block.serialize()
    parsed = parse_block(data, MAX_BLOCK_BYTES)
    assert parsed == block and parsed.size == len(data) and parsed.hash == block.hash


@FAST
@given(st.builds(Account, U64, U64), st.builds(Supply, U64, U64))
def test_account_and_supply_roundtrip(account, supply):
    assert Account.deserialize(account.serialize()) == account
    assert Supply.deserialize(supply.serialize()) == supply


@FAST
@given(undo_records)
def test_undo_roundtrip(undo):
    data = serialize_undo(undo)
    assert deserialize_undo(data) == undo
    assert serialize_undo(deserialize_undo(data)) == data  # canonical: one encoding per record


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_parse_transaction_of_random_bytes_only_raises_decode_error(data):
    try:
        tx = parse_transaction(data)
    except DecodeError:
        return
    assert tx.serialize() == data


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=HEADER_SIZE, max_size=600))
def test_parse_block_of_random_bytes_only_raises_decode_errors(data):
    try:
        block = parse_block(data, MAX_BLOCK_BYTES)
    except DecodeError:
        return
    except HashgradError as exc:  # an auxpow-flagged header makes the parser read a CAuxPow
        assert BlockHeader.deserialize(data[:HEADER_SIZE]).is_auxpow(), exc
        return
    assert block.serialize() == data


# ---------------------------------------------------------------- decode errors


def sample_tx() -> Transaction:
    return make_transfer(ALICE, 3, BOB.pubkey, 1_000)


def sample_block() -> Block:
    return make_block(b"\x07" * 32, 5, PARAMS.genesis_time + 600, (sample_tx(), make_transfer(ALICE, 4, BOB.pubkey, 9)))


def decode_reason(parse, data: bytes) -> str:
    with pytest.raises(DecodeError) as info:
        parse(data)
    return info.value.reason


def test_invalid_bad_encoding_truncated_transaction():
    data = sample_tx().serialize()
    for cut in range(len(data)):
        assert decode_reason(parse_transaction, data[:cut]) == "bad-encoding"


def test_invalid_bad_encoding_trailing_transaction():
    assert decode_reason(parse_transaction, sample_tx().serialize() + b"\x00") == "bad-encoding"


def test_invalid_bad_encoding_non_canonical_payload_length():
    tx = sample_tx()
    fixed = tx.serialize_unsigned()[:-41]  # version..fee; then CompactSize(40) and the payload
    data = fixed + b"\xfd\x28\x00" + tx.payload + tx.signature  # 40 written in the 3-byte form
    assert decode_reason(parse_transaction, data) == "bad-encoding"


def test_invalid_bad_encoding_payload_over_limit():
    tx = Transaction(1, 1, ALICE.pubkey, 0, 0, b"\x00" * (MAX_PAYLOAD_SIZE + 1), b"\x00" * 64)
    assert decode_reason(parse_transaction, tx.serialize()) == "bad-encoding"


def test_invalid_bad_encoding_truncated_block():
    data = sample_block().serialize()
    for cut in range(HEADER_SIZE, len(data)):
        assert decode_reason(lambda d: parse_block(d, MAX_BLOCK_BYTES), data[:cut]) == "bad-encoding"
    for cut in (0, 1, HEADER_SIZE - 1):  # shorter than a header: a DecodeError naming the length
        with pytest.raises(DecodeError):
            parse_block(data[:cut], MAX_BLOCK_BYTES)


def test_invalid_bad_encoding_trailing_block():
    data = sample_block().serialize()
    assert decode_reason(lambda d: parse_block(d, MAX_BLOCK_BYTES), data + b"\x00") == "bad-encoding"


def test_invalid_bad_encoding_non_canonical_tx_count():
    block = sample_block()
    data = block.header.serialize() + b"\xfd\x03\x00" + b"".join(tx.serialize() for tx in block.txs)
    assert decode_reason(lambda d: parse_block(d, MAX_BLOCK_BYTES), data) == "bad-encoding"


def test_parse_block_reads_auxpow_flag():
    header = sample_block().header
    flagged = replace(header, version=header.version | VERSION_AUXPOW)
    with pytest.raises(DecodeError):
        parse_block(flagged.serialize() + b"\x00", MAX_BLOCK_BYTES)


@pytest.mark.parametrize("length", [39, 41])
def test_invalid_bad_txns_payload_length(length):
    with pytest.raises(TxError) as info:
        TransferPayload.deserialize(b"\x00" * length)
    assert info.value.reason == "bad-txns-payload"


def test_invalid_bad_cb_payload_trailing():
    data = CoinbasePayload(ALICE.pubkey, 5, b"x").serialize() + b"\x00"
    with pytest.raises(TxError) as info:
        CoinbasePayload.deserialize(data)
    assert info.value.reason == "bad-cb-payload"
