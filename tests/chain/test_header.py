"""The 80-byte block header: layout, (de)serialization round trip, hash and version fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashgrad.chain.header import HEADER_SIZE, BlockHeader, iter_headers
from hashgrad.errors import DecodeError

GENESIS_HEX = (
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67"
    "768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
)

headers = st.builds(
    BlockHeader,
    version=st.integers(-(1 << 31), (1 << 31) - 1),
    prev_hash=st.binary(min_size=32, max_size=32),
    merkle_root=st.binary(min_size=32, max_size=32),
    time=st.integers(0, 0xFFFFFFFF),
    bits=st.integers(0, 0xFFFFFFFF),
    nonce=st.integers(0, 0xFFFFFFFF),
)


def test_deserialize_genesis():
    header = BlockHeader.deserialize(bytes.fromhex(GENESIS_HEX))
    assert (header.version, header.time, header.bits, header.nonce) == (1, 1231006505, 0x1D00FFFF, 2083236893)
    assert header.prev_hash == b"\x00" * 32
    assert header.merkle_root[::-1].hex() == "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
    assert header.hash_hex == "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    assert header.serialize().hex() == GENESIS_HEX


@given(headers)
def test_serialize_round_trip(header):
    raw = header.serialize()
    assert len(raw) == HEADER_SIZE
    assert BlockHeader.deserialize(raw) == header
    assert BlockHeader.deserialize(raw).serialize() == raw


@given(st.binary(min_size=HEADER_SIZE, max_size=HEADER_SIZE))
def test_deserialize_round_trip_any_bytes(raw):
    assert BlockHeader.deserialize(raw).serialize() == raw


@pytest.mark.parametrize("size", [0, 79, 81, 160])
def test_invalid_header_length(size):
    with pytest.raises(DecodeError) as err:
        BlockHeader.deserialize(b"\x00" * size)
    assert err.value.reason == "bad-header-length"


def test_iter_headers(mainnet_headers):
    raw = b"".join(h.serialize() for h in mainnet_headers[:3])
    assert list(iter_headers(raw)) == mainnet_headers[:3]
    with pytest.raises(DecodeError) as err:
        list(iter_headers(raw[:-1]))
    assert err.value.reason == "bad-header-length"


def test_version_fields():
    header = BlockHeader.deserialize(bytes.fromhex(GENESIS_HEX))
    merged = BlockHeader(0x00620104, header.prev_hash, header.merkle_root, header.time, header.bits, 0)
    assert merged.chain_id == 98 and merged.is_auxpow() and merged.base_version == 4
    assert not header.is_auxpow() and header.chain_id == 0 and header.base_version == 1
    assert header.with_nonce(7).nonce == 7 and header.with_nonce(7).hash != header.hash
