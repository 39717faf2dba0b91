"""SHA256d, BIP340 tagged hashes and the display byte order."""

from __future__ import annotations

import hashlib

import pytest

from hashgrad.chain.hashes import display_to_hash, hash_to_display, hash_to_int, sha256, sha256d, tagged_hash
from hashgrad.errors import DecodeError


def test_sha256d():
    assert sha256(b"abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256d(b"").hex() == "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"


def test_tagged_hash():
    tag = hashlib.sha256(b"BIP0340/challenge").digest()
    assert tagged_hash("BIP0340/challenge", b"x") == hashlib.sha256(tag + tag + b"x").digest()
    assert tagged_hash("BIP0340/aux", b"x") != tagged_hash("BIP0340/nonce", b"x")


def test_display_round_trip():
    display = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    digest = display_to_hash(display)
    assert digest[-1] == 0 and hash_to_display(digest) == display
    assert hash_to_int(digest) == int(display, 16)


@pytest.mark.parametrize("text", ["zz" * 32, "00" * 31, "00" * 33, ""])
def test_invalid_display_hash(text):
    with pytest.raises(DecodeError) as err:
        display_to_hash(text)
    assert err.value.reason == "bad-hash"
