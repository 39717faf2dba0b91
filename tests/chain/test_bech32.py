"""Bech32/Bech32m (BIP173/BIP350) on the official vectors, segwit addresses with their
scriptPubKeys, and hashgrad's bech32m account addresses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashgrad.chain.bech32 import (
    Encoding,
    bech32_decode,
    bech32_encode,
    convert_bits,
    decode_address,
    decode_segwit_address,
    encode_address,
)
from hashgrad.chain.params import NETWORKS
from hashgrad.errors import DecodeError


@pytest.fixture(scope="module")
def bech32_vectors(load_json):
    return load_json("bech32_bip173_bip350_vectors.json")


def script_pubkey(version: int, program: bytes) -> bytes:
    return bytes([version + 0x50 if version else 0, len(program)]) + program


def test_bech32_decode_valid(bech32_vectors):
    for key, encoding in (("bech32_valid", Encoding.BECH32), ("bech32m_valid", Encoding.BECH32M)):
        assert len(bech32_vectors[key]) == 7
        for case in bech32_vectors[key]:
            hrp, data, found = bech32_decode(case["string"])
            assert found is encoding, case
            assert bech32_encode(hrp, data, encoding) == case["string"].lower()
            # Any single flipped data character breaks the checksum.
            pos = case["string"].rfind("1") + 1
            swap = "q" if case["string"][pos].lower() != "q" else "p"
            flipped = case["string"][:pos] + swap + case["string"][pos + 1 :]
            with pytest.raises(DecodeError):
                bech32_decode(flipped.lower())


def test_invalid_bech32_strings(bech32_vectors):
    cases = bech32_vectors["bech32_invalid"] + bech32_vectors["bech32m_invalid"]
    assert len(cases) == 26
    for case in cases:
        text = case["string"]
        if "string_bytes_hex" in case:
            assert text.encode("latin-1") == bytes.fromhex(case["string_bytes_hex"])
        with pytest.raises(DecodeError) as err:
            bech32_decode(text)
        assert err.value.reason == "bad-bech32", case


def test_decode_segwit_address(bech32_vectors):
    cases = bech32_vectors["bip350_segwit_valid_addresses"]
    assert len(cases) == 8
    for case in cases:
        hrp = case["string"][:2].lower()
        version, program = decode_segwit_address(hrp, case["string"])
        assert script_pubkey(version, program).hex() == case["scriptPubKey"], case
        encoding = Encoding.BECH32 if version == 0 else Encoding.BECH32M
        assert bech32_encode(hrp, [version] + convert_bits(program, 8, 5, True), encoding) == case["string"].lower()


def test_invalid_segwit_addresses(bech32_vectors):
    cases = bech32_vectors["bip350_segwit_invalid_addresses"] + bech32_vectors["bip173_segwit_invalid_addresses"]
    # BIP173's valid v1+ addresses use bech32, which BIP350 made invalid.
    cases += [c for c in bech32_vectors["bip173_segwit_valid_addresses"] if c["scriptPubKey"][:2] != "00"]
    assert len(cases) == 28
    for case in cases:
        for hrp in ("bc", "tb"):
            with pytest.raises(DecodeError) as err:
                decode_segwit_address(hrp, case["string"])
            assert err.value.reason in ("bad-address", "bad-bech32"), case


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_encode_address_round_trip(network):
    hrp = NETWORKS[network].hrp
    pubkey = bytes(range(32))
    address = encode_address(hrp, pubkey)
    assert address.startswith(hrp + "1") and len(address) == len(hrp) + 1 + 1 + 52 + 6
    assert decode_address(hrp, address) == pubkey
    assert decode_address(hrp, address.upper()) == pubkey


@given(st.binary(min_size=32, max_size=32))
def test_address_round_trip_property(pubkey):
    assert decode_address("hg", encode_address("hg", pubkey)) == pubkey


def _reject(hrp: str, address) -> str:
    with pytest.raises(DecodeError) as err:
        decode_address(hrp, address)
    return err.value.reason


def test_invalid_bad_address():
    pubkey = bytes(range(32))
    good = encode_address("hg", pubkey)
    assert _reject("thg", good) == "bad-address"  # wrong network prefix
    data = [0] + convert_bits(pubkey, 8, 5, True)
    assert _reject("hg", bech32_encode("hg", data, Encoding.BECH32)) == "bad-address"  # bech32, not bech32m
    assert _reject("hg", good[:-1] + ("q" if good[-1] != "q" else "p")) == "bad-address"  # checksum
    assert _reject("hg", bech32_encode("hg", [1] + data[1:], Encoding.BECH32M)) == "bad-address"  # version 1
    short = [0] + convert_bits(pubkey[:20], 8, 5, True)
    assert _reject("hg", bech32_encode("hg", short, Encoding.BECH32M)) == "bad-address"  # 20-byte key
    assert _reject("hg", good[:5] + good[5].upper() + good[6:]) == "bad-address"  # mixed case
    assert _reject("hg", "hg1" + "q" * 100) == "bad-address"  # too long
    assert _reject("hg", None) == "bad-address"
