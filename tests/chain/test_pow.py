"""Compact nBits, CheckProofOfWork and chainwork (GetBlockProof), against Bitcoin Core's own cases
(`arith_uint256_tests.cpp`, `pow_tests.cpp`) and real mainnet chainwork."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashgrad.chain.params import BITCOIN_POW_LIMIT
from hashgrad.chain.pow import (
    check_proof_of_work,
    compute_block_proof,
    compute_target,
    decode_compact,
    encode_compact,
    is_valid_proof_of_work,
)
from hashgrad.errors import HeaderError

DIFFICULTY_1_BITS = 0x1D00FFFF


def _set_compact_cases(load_json):
    return [c for c in load_json("compact_nbits_cases.json")["cases"] if "compact" in c]


def test_decode_compact(load_json):
    cases = _set_compact_cases(load_json)
    assert len(cases) == 20
    for case in cases:
        decoded = decode_compact(int(case["compact"], 16))
        assert decoded.negative == case["negative"], case
        assert decoded.overflow == case["overflow"], case
        if "target_hex" in case:
            assert decoded.value == int(case["target_hex"], 16), case


def test_encode_compact_round_trip(load_json):
    checked = 0
    for case in _set_compact_cases(load_json):
        if "roundtrip_compact" not in case:
            continue
        value = int(case["target_hex"], 16)
        got = encode_compact(value, negative=case["getcompact_negative_arg"])
        assert got == int(case["roundtrip_compact"], 16), case
        checked += 1
    assert checked == 19  # every case but the overflow one


def test_encode_compact_keeps_sign_bit_clear(load_json):
    (case,) = [c for c in load_json("compact_nbits_cases.json")["cases"] if "from_value_hex" in c]
    assert encode_compact(int(case["from_value_hex"], 16)) == int(case["getcompact"], 16) == 0x02008000


def test_decode_compact_size_three_shift_happens_before_sign_test():
    # 0x01803456: the word is shifted to 0 first, so the value is 0 and NOT negative.
    decoded = decode_compact(0x01803456)
    assert (decoded.value, decoded.negative, decoded.overflow) == (0, False, False)


def test_decode_compact_difficulty_1():
    assert decode_compact(DIFFICULTY_1_BITS).value == 0xFFFF << 208
    assert encode_compact(BITCOIN_POW_LIMIT) == DIFFICULTY_1_BITS


@given(st.integers(min_value=0, max_value=(1 << 256) - 1))
def test_encode_compact_is_truncation(value):
    """GetCompact keeps the top 23 significant bits and never rounds up; SetCompact reads it back."""
    compact = encode_compact(value)
    decoded = decode_compact(compact)
    assert not decoded.negative and not decoded.overflow
    assert decoded.value <= value
    if value:
        size = compact >> 24
        assert decoded.value == (value >> (8 * (size - 3)) << (8 * (size - 3)) if size > 3 else value)
        assert value - decoded.value < 1 << max(0, 8 * (size - 3))
    assert encode_compact(decoded.value) == compact  # idempotent on its own output


@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_encode_compact_of_decoded_value_round_trips(compact):
    """Any usable compact re-encodes (with its sign) to one that decodes to the same value and sign."""
    decoded = decode_compact(compact)
    if decoded.overflow or decoded.value == 0:
        return
    again = encode_compact(decoded.value, negative=decoded.negative)
    assert decode_compact(again).value == decoded.value
    assert decode_compact(again).negative == decoded.negative


def test_check_proof_of_work(load_json):
    genesis_hash = bytes.fromhex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")[::-1]
    assert is_valid_proof_of_work(genesis_hash, DIFFICULTY_1_BITS, BITCOIN_POW_LIMIT)
    check_proof_of_work(genesis_hash, DIFFICULTY_1_BITS, BITCOIN_POW_LIMIT)
    target = decode_compact(DIFFICULTY_1_BITS).value
    assert is_valid_proof_of_work(target.to_bytes(32, "little"), DIFFICULTY_1_BITS, BITCOIN_POW_LIMIT)
    assert not is_valid_proof_of_work((target + 1).to_bytes(32, "little"), DIFFICULTY_1_BITS, BITCOIN_POW_LIMIT)


def test_invalid_proof_of_work_core_cases(load_json):
    data = load_json("pow_retarget_cases.json")
    pow_limit = int(data["params"]["powLimit"], 16)
    assert pow_limit == BITCOIN_POW_LIMIT
    cases = data["check_proof_of_work"]
    assert len(cases) == 5
    for case in cases:
        pow_hash = int(case["hash_hex"], 16).to_bytes(32, "little")
        bits = int(case["nBits"], 16)
        assert is_valid_proof_of_work(pow_hash, bits, pow_limit) is case["expected"] is False, case["name"]
        with pytest.raises(HeaderError) as err:
            check_proof_of_work(pow_hash, bits, pow_limit)
        assert err.value.reason == "high-hash"


@pytest.mark.parametrize("bits", [0x1D80FFFF, 0xFF7FFFFF, 0x1D01FFFF, 0x00000000, 0x01003456])
def test_invalid_target_bad_diffbits(bits):
    with pytest.raises(HeaderError) as err:
        compute_target(bits, BITCOIN_POW_LIMIT)
    assert err.value.reason == "bad-diffbits"


def test_compute_block_proof_difficulty_1():
    assert compute_block_proof(DIFFICULTY_1_BITS) == 0x100010001 == 4_295_032_833


def test_compute_block_proof_unusable_bits_is_zero():
    for bits in (0x00000000, 0x1D80FFFF, 0xFF123456, 0x01003456):
        assert compute_block_proof(bits) == 0


@given(st.integers(min_value=0x03000001, max_value=0x207FFFFF))
def test_compute_block_proof_is_floor_of_2_256_over_target_plus_1(bits):
    decoded = decode_compact(bits)
    if decoded.negative or decoded.overflow or decoded.value == 0:
        return
    target = decoded.value
    # Core computes (~target / (target + 1)) + 1 in 256-bit arithmetic.
    core = ((((1 << 256) - 1) ^ target) // (target + 1)) + 1
    assert compute_block_proof(bits) == core == (1 << 256) // (target + 1)


def test_chainwork_of_mainnet_boundaries(boundary_headers):
    """cw(0) = work(genesis); cw(k*2016-1) = cw((k-1)*2016) + 2015*work; cw(k*2016) = cw(k*2016-1) + work(bits)."""
    assert boundary_headers[0]["chainwork"] == compute_block_proof(boundary_headers[0]["header"].bits) == 0x100010001
    steps = 0
    k = 1
    while k * 2016 in boundary_headers:
        first, last, nxt = (boundary_headers[h] for h in ((k - 1) * 2016, k * 2016 - 1, k * 2016))
        assert first["header"].bits == last["header"].bits
        assert last["chainwork"] == first["chainwork"] + 2015 * compute_block_proof(last["header"].bits)
        assert nxt["chainwork"] == last["chainwork"] + compute_block_proof(nxt["header"].bits)
        steps += 2
        k += 1
    assert steps == 826
    assert boundary_headers[832608]["chainwork"] == 0x6CBA5548513889A0030BD7B4
    assert boundary_headers[2016]["chainwork"] == 2017 * 0x100010001 == 0x7E107E107E1
