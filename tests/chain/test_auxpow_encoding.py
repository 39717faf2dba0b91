"""CAuxPow bytes (round trip, strict decoding) and getExpectedIndex (real values, 32-bit wraparound)."""

from __future__ import annotations

import ctypes
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashgrad.chain.auxpow import (
    MAX_AUXPOW_SIZE,
    MAX_BRANCH_DECODE,
    build_aux_coinbase_script,
    build_aux_merkle_tree,
    compute_chain_id,
    compute_expected_index,
    parse_auxpow,
    read_auxpow,
)
from hashgrad.chain.encoding import ByteReader
from hashgrad.errors import DecodeError
from support.auxpow import build_pool_auxpow, load_samples, make_child_header, sample_parts

AUXPOW_SAMPLES = [name for name, entry in load_samples().items() if "auxpow" in entry]


def auxpow_bytes(name: str) -> bytes:
    entry = load_samples()[name]
    if "header80" not in entry:
        return bytes.fromhex(entry["hex"])
    return sample_parts(name)[1]


@pytest.mark.parametrize("name", AUXPOW_SAMPLES)
def test_parse_auxpow_real_round_trip(name):
    raw = auxpow_bytes(name)
    auxpow = parse_auxpow(raw)
    fields = load_samples()[name]["auxpow"]
    assert auxpow.serialize() == raw
    assert auxpow.coinbase_tx.txid[::-1].hex() == fields["coinbase_txid"]
    assert [h[::-1].hex() for h in auxpow.chain_branch] == fields["chain_merkle_branch"]
    assert [h[::-1].hex() for h in auxpow.coinbase_branch] == fields["coinbase_merkle_branch"]
    assert auxpow.chain_index == fields["chain_index"]
    assert auxpow.parent_header.serialize().hex() == fields["parent_header"]
    assert auxpow.parent_block_hash[::-1].hex() == fields["hashBlock"]


def test_read_auxpow_stops_after_parent_header():
    header, raw = sample_parts("namecoin_19200")
    block = bytes.fromhex(load_samples()["namecoin_19200"]["hex"])
    reader = ByteReader(block, 80)
    read_auxpow(reader)
    assert reader.pos == 80 + len(raw)


def test_parse_auxpow_segwit_coinbase_round_trip():
    auxpow = build_pool_auxpow(make_child_header(), grind=False)
    raw = auxpow.serialize()
    assert auxpow.coinbase_tx.has_witness() and raw[4:6] == b"\x00\x01"
    assert parse_auxpow(raw) == auxpow


def test_invalid_parse_auxpow_truncated():
    raw = auxpow_bytes("namecoin_37174_explicit_mm_header")
    for cut in (1, 40, 80, len(raw) - 1):
        with pytest.raises(DecodeError) as info:
            parse_auxpow(raw[:-cut])
        assert info.value.reason == "bad-encoding"


def test_invalid_parse_auxpow_trailing_byte():
    with pytest.raises(DecodeError) as info:
        parse_auxpow(auxpow_bytes("namecoin_19200") + b"\x00")
    assert info.value.reason == "bad-encoding"


def test_invalid_parse_auxpow_too_large():
    with pytest.raises(DecodeError) as info:
        parse_auxpow(b"\x00" * (MAX_AUXPOW_SIZE + 1))
    assert info.value.reason == "bad-auxpow-length"


def test_invalid_parse_auxpow_branch_over_decode_bound():
    auxpow = parse_auxpow(auxpow_bytes("namecoin_19200"))
    ok = replace(auxpow, chain_branch=(b"\x01" * 32,) * MAX_BRANCH_DECODE)
    assert parse_auxpow(ok.serialize()) == ok
    with pytest.raises(DecodeError) as info:
        parse_auxpow(replace(auxpow, chain_branch=(b"\x01" * 32,) * (MAX_BRANCH_DECODE + 1)).serialize())
    assert info.value.reason == "bad-auxpow-branch-length"


def test_invalid_parse_auxpow_non_canonical_branch_length():
    auxpow = parse_auxpow(auxpow_bytes("namecoin_19200"))
    raw = auxpow.serialize()
    tx_len = len(auxpow.coinbase_tx.serialize())
    # the coinbase branch count (5) re-encoded as 0xfd 0x0500: Bitcoin Core refuses it
    bloated = raw[: tx_len + 32] + b"\xfd\x05\x00" + raw[tx_len + 33 :]
    with pytest.raises(DecodeError) as info:
        parse_auxpow(bloated)
    assert info.value.reason == "bad-encoding"


@pytest.mark.parametrize(
    "nonce, chain_id, height, index",
    [
        (0, 1, 4, 11),
        (2677055472, 4096, 4, 14),
        (67108864, 98, 6, 56),
        (2677055472, 98, 6, 40),
    ],
)
def test_compute_expected_index_real(nonce, chain_id, height, index):
    assert compute_expected_index(nonce, chain_id, height) == index


def reference_expected_index(nonce: int, chain_id: int, height: int) -> int:
    """getExpectedIndex with C's uint32_t arithmetic (ctypes wraps silently)."""
    rand = ctypes.c_uint32(nonce)
    rand = ctypes.c_uint32(rand.value * 1103515245 + 12345)
    rand = ctypes.c_uint32(rand.value % (1 << height))
    rand = ctypes.c_uint32(rand.value + chain_id)
    rand = ctypes.c_uint32(rand.value * 1103515245 + 12345)
    return rand.value % (1 << height)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(-(2**15), 2**16 - 1), st.integers(0, 30))
def test_compute_expected_index_wraps_like_uint32(nonce, chain_id, height):
    assert compute_expected_index(nonce, chain_id, height) == reference_expected_index(nonce, chain_id, height)


def test_compute_expected_index_edges():
    assert all(compute_expected_index(n, 4242, 0) == 0 for n in (0, 1, 2**32 - 1))
    assert compute_expected_index(2**32 - 1, 0x7FFF, 30) == reference_expected_index(2**32 - 1, 0x7FFF, 30)
    with pytest.raises(ValueError):
        compute_expected_index(0, 4242, 31)


def test_compute_chain_id_truncates_like_c():
    assert compute_chain_id(0x10920104) == 0x1092
    assert compute_chain_id(0x20C00000) == 8384
    assert compute_chain_id(-0x0000EDCC) == 0  # C: -60876 / 65536 == 0, where >> 16 gives -1
    assert compute_chain_id(-0x00010000) == -1


def test_build_aux_coinbase_script_layout():
    root = bytes(range(32))
    script = build_aux_coinbase_script(root, 3, 0xF09F909F)
    assert script.hex() == "fabe6d6d" + root[::-1].hex() + "08000000" + "9f909ff0"


def test_build_aux_merkle_tree_slots_and_clash():
    tree = build_aux_merkle_tree({4242: b"\x01" * 32, 1: b"\x02" * 32, 98: b"\x03" * 32}, 5, 7)
    assert tree.slots == {cid: compute_expected_index(7, cid, 5) for cid in (4242, 1, 98)}
    assert len(set(tree.slots.values())) == 3
    # The LCG is a bijection mod 2^h, so two chains clash exactly when their IDs agree mod 2^h,
    # whatever the nonce: 4242 and Dogecoin's 98 agree mod 16, so they need a tree of 32 or more.
    for height in range(5):
        with pytest.raises(ValueError):
            build_aux_merkle_tree({4242: b"\x01" * 32, 98: b"\x03" * 32}, height, 12345)
