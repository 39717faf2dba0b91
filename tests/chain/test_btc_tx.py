"""Bitcoin transactions and blocks as bytes: parse/serialize round trips on every tx of two real
blocks, txid/wtxid, and CheckBlock's body rules with Core's reasons on mutated copies."""

from __future__ import annotations

import dataclasses

import pytest

from hashgrad.chain.btc_tx import (
    MAX_BTC_BLOCK_SERIALIZED,
    BitcoinBlock,
    check_bitcoin_block_merkle,
    check_witness_commitment,
    find_witness_commitment_index,
    parse_bitcoin_block,
    parse_bitcoin_tx,
    read_bitcoin_tx,
)
from hashgrad.chain.encoding import ByteReader, encode_compact_size
from hashgrad.chain.hashes import hash_to_display, sha256d
from hashgrad.errors import BlockError, DecodeError, HashgradError


def serialize_block(block: BitcoinBlock) -> bytes:
    return block.header.serialize() + encode_compact_size(len(block.txs)) + b"".join(tx.serialize() for tx in block.txs)


def check_block(block: BitcoinBlock) -> None:
    """What `hashgrad btc verify-block` checks, in Bitcoin Core's order."""
    check_bitcoin_block_merkle(block)
    check_witness_commitment(block)


def reason_of(block: BitcoinBlock) -> str:
    with pytest.raises(HashgradError) as err:
        check_block(parse_bitcoin_block(serialize_block(block)))
    return err.value.reason


def with_tx(block: BitcoinBlock, index: int, tx) -> BitcoinBlock:
    return dataclasses.replace(block, txs=block.txs[:index] + (tx,) + block.txs[index + 1 :])


def with_witness(tx, input_index: int, witness: tuple[bytes, ...]):
    inputs = list(tx.inputs)
    inputs[input_index] = dataclasses.replace(inputs[input_index], witness=witness)
    return dataclasses.replace(tx, inputs=tuple(inputs))


def test_parse_bitcoin_block_413567(parsed_413567):
    block = parsed_413567
    assert len(block.txs) == 1557
    assert block.header.hash_hex == "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069"
    assert (block.header.bits, block.header.version) == (0x18058436, 4)
    assert not any(tx.has_witness() for tx in block.txs)
    assert find_witness_commitment_index(block.txs[0]) is None
    root = check_bitcoin_block_merkle(block)
    assert hash_to_display(root) == "64a50c649fc816baaa2effda230c39cacf1504e4e616a2863685b72aaa7dce05"
    check_witness_commitment(block)


def test_parse_bitcoin_block_830000(parsed_830000, recent_headers):
    block = parsed_830000
    assert len(block.txs) == 1851
    assert sum(tx.has_witness() for tx in block.txs) == 1722
    assert block.header.hash_hex == "000000000000000000011d55599ed27d7efca05f5849b755319c89eb2cffbc1f"
    assert block.header == recent_headers[830000 - 822528]
    root = check_bitcoin_block_merkle(block)
    assert hash_to_display(root) == "8a56cfd4c2776e3e4720fd2e50aefb4d51f07a45662e1aea17b0c91afdb2ad70"
    index = find_witness_commitment_index(block.txs[0])
    assert block.txs[0].outputs[index].script_pubkey[:6].hex() == "6a24aa21a9ed"
    assert block.txs[0].outputs[index].script_pubkey[6:38].hex().startswith("600220b4")
    check_witness_commitment(block)


@pytest.mark.parametrize("name", ["block_413567", "block_830000"])
def test_tx_round_trip(name, request):
    """serialize(parse(x)) == x for every tx; txid hashes the witness-stripped bytes, wtxid all of them."""
    raw = request.getfixturevalue(name)
    reader = ByteReader(raw, 80)
    count = reader.read_compact_size()
    witness_txs = 0
    for _ in range(count):
        start = reader.pos
        tx = read_bitcoin_tx(reader)
        tx_bytes = raw[start : reader.pos]
        assert tx.serialize() == tx_bytes
        assert parse_bitcoin_tx(tx_bytes) == tx
        assert tx.wtxid == sha256d(tx_bytes)
        stripped = tx.serialize(with_witness=False)
        assert tx.txid == sha256d(stripped)
        if tx.has_witness():
            witness_txs += 1
            assert tx_bytes[4:6] == b"\x00\x01" and tx.txid != tx.wtxid and len(stripped) < len(tx_bytes)
        else:
            assert stripped == tx_bytes and tx.txid == tx.wtxid
    reader.check_done()
    assert witness_txs == (1722 if name == "block_830000" else 0)


def test_block_round_trip(block_413567, block_830000, parsed_413567, parsed_830000):
    assert serialize_block(parsed_413567) == block_413567
    assert serialize_block(parsed_830000) == block_830000


def test_invalid_bad_txnmrklroot(parsed_413567, parsed_830000):
    for block in (parsed_413567, parsed_830000):
        tx = block.txs[5]
        assert reason_of(with_tx(block, 5, dataclasses.replace(tx, locktime=tx.locktime ^ 1))) == "bad-txnmrklroot"
    swapped = dataclasses.replace(
        parsed_413567, txs=(parsed_413567.txs[0], parsed_413567.txs[2], parsed_413567.txs[1]) + parsed_413567.txs[3:]
    )
    assert reason_of(swapped) == "bad-txnmrklroot"


def test_invalid_bad_txns_duplicate(parsed_413567, parsed_830000):
    """CVE-2012-2459: both tx counts are odd, so duplicating the last tx keeps the header's root."""
    for block in (parsed_413567, parsed_830000):
        mutated = dataclasses.replace(block, txs=block.txs + block.txs[-1:])
        assert reason_of(mutated) == "bad-txns-duplicate"


def test_invalid_bad_witness_merkle_match(parsed_830000):
    index = next(i for i, tx in enumerate(parsed_830000.txs[1:], 1) if tx.has_witness())
    tx = parsed_830000.txs[index]
    witness = tx.inputs[0].witness
    changed = with_witness(tx, 0, witness[:-1] + (witness[-1] + b"\x01",))
    assert changed.txid == tx.txid and changed.wtxid != tx.wtxid
    assert reason_of(with_tx(parsed_830000, index, changed)) == "bad-witness-merkle-match"
    reserved = parsed_830000.txs[0].inputs[0].witness[0]
    coinbase = with_witness(parsed_830000.txs[0], 0, (bytes([reserved[0] ^ 1]) + reserved[1:],))
    assert reason_of(with_tx(parsed_830000, 0, coinbase)) == "bad-witness-merkle-match"


@pytest.mark.parametrize("witness", [(b"\x00" * 31,), (b"\x00" * 33,), (b"\x00" * 32, b"\x00" * 32), ()])
def test_invalid_bad_witness_nonce_size(parsed_830000, witness):
    coinbase = with_witness(parsed_830000.txs[0], 0, witness)
    assert coinbase.txid == parsed_830000.txs[0].txid
    assert reason_of(with_tx(parsed_830000, 0, coinbase)) == "bad-witness-nonce-size"


def test_invalid_unexpected_witness(parsed_413567):
    tx = with_witness(parsed_413567.txs[1], 0, (b"\x01",))
    assert reason_of(with_tx(parsed_413567, 1, tx)) == "unexpected-witness"


def test_invalid_bad_encoding(block_830000):
    for raw in (block_830000[:-1], block_830000 + b"\x00", block_830000[:81]):
        with pytest.raises(DecodeError) as err:
            parse_bitcoin_block(raw)
        assert err.value.reason == "bad-encoding"


def test_invalid_bad_blk_length(block_413567):
    with pytest.raises(DecodeError) as err:
        parse_bitcoin_block(block_413567[:79])
    assert err.value.reason == "bad-blk-length"
    with pytest.raises(BlockError) as err:
        parse_bitcoin_block(block_413567[:80] + b"\x00")
    assert err.value.reason == "bad-blk-length"
    with pytest.raises(BlockError) as err:
        parse_bitcoin_block(b"\x00" * (MAX_BTC_BLOCK_SERIALIZED + 1))
    assert err.value.reason == "bad-blk-length"


def test_invalid_tx_encoding(parsed_830000):
    segwit = next(tx for tx in parsed_830000.txs if tx.has_witness()).serialize()
    with pytest.raises(DecodeError) as err:
        parse_bitcoin_tx(segwit[:5] + b"\x02" + segwit[6:])
    assert err.value.reason == "bad-txns-witness-flag"
    legacy = parsed_830000.txs[0].serialize(with_witness=False)
    with pytest.raises(DecodeError) as err:
        parse_bitcoin_tx(legacy + b"\x00")
    assert err.value.reason == "bad-encoding"
    empty_witness = dataclasses.replace(
        parsed_830000.txs[0],
        inputs=tuple(dataclasses.replace(txin, witness=()) for txin in parsed_830000.txs[0].inputs),
    )
    raw = empty_witness.serialize()
    forced = raw[:4] + b"\x00\x01" + raw[4:-4] + b"\x00" * len(empty_witness.inputs) + raw[-4:]
    with pytest.raises(DecodeError) as err:
        parse_bitcoin_tx(forced)
    assert err.value.reason == "bad-txns-witness-empty"
