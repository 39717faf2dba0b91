"""BIP340 Schnorr keys: all 19 official vectors (verification, and exact signatures with the given
aux_rand where a secret key is given, including messages of 0, 1, 17 and 100 bytes)."""

from __future__ import annotations

import csv
import io

import pytest

from data_files import read_data
from hashgrad.chain.keys import SigningKey, is_valid_pubkey, is_valid_schnorr
from hashgrad.errors import TxError


@pytest.fixture(scope="module")
def bip340_vectors() -> list[dict]:
    text = read_data("bip340_test_vectors.csv").decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_is_valid_schnorr_vectors(bip340_vectors):
    assert len(bip340_vectors) == 19
    for row in bip340_vectors:
        pubkey, message, signature = (bytes.fromhex(row[k]) for k in ("public key", "message", "signature"))
        assert is_valid_schnorr(pubkey, message, signature) == (row["verification result"] == "TRUE"), row["index"]


def test_sign_vectors(bip340_vectors):
    signed = 0
    for row in bip340_vectors:
        if not row["secret key"]:
            continue
        key = SigningKey(bytes.fromhex(row["secret key"]))
        assert key.pubkey.hex().upper() == row["public key"]
        message = bytes.fromhex(row["message"])
        assert key.sign(message, bytes.fromhex(row["aux_rand"])).hex().upper() == row["signature"], row["index"]
        signed += 1
    assert signed == 8  # vectors 0-3 (32-byte messages) and 15-18 (0, 1, 17, 100 bytes)


@pytest.mark.parametrize("length", [0, 1, 31, 32, 33, 100, 1000])
def test_sign_any_length_round_trip(length):
    key = SigningKey(bytes(range(1, 33)))
    message = bytes(i % 251 for i in range(length))
    signature = key.sign(message)
    assert len(signature) == 64 and is_valid_schnorr(key.pubkey, message, signature)
    assert not is_valid_schnorr(key.pubkey, message + b"\x00", signature)
    assert key.sign(message, b"\x00" * 32) == key.sign(message, b"\x00" * 32)  # deterministic given aux


def test_invalid_schnorr_malformed():
    key = SigningKey.generate()
    signature = key.sign(b"m" * 32)
    assert is_valid_schnorr(key.pubkey, b"m" * 32, signature)
    assert not is_valid_schnorr(key.pubkey[:31], b"m" * 32, signature)
    assert not is_valid_schnorr(key.pubkey, b"m" * 32, signature[:63])
    assert not is_valid_schnorr(b"\xff" * 32, b"m" * 32, signature)  # not an x coordinate


def test_is_valid_pubkey():
    assert is_valid_pubkey(SigningKey.generate().pubkey)
    assert not is_valid_pubkey(b"\xff" * 32) and not is_valid_pubkey(b"\x01" * 31)


@pytest.mark.parametrize("secret", [b"\x00" * 32, b"\xff" * 32, b"\x01" * 31])
def test_invalid_bad_secret_key(secret):
    with pytest.raises(TxError) as err:
        SigningKey(secret)
    assert err.value.reason == "bad-secret-key"


def test_invalid_bad_aux_rand():
    with pytest.raises(TxError) as err:
        SigningKey.generate().sign(b"m" * 32, b"\x00" * 31)
    assert err.value.reason == "bad-aux-rand"


def test_repr_hides_secret():
    key = SigningKey(bytes(range(1, 33)))
    assert bytes(range(1, 33)).hex() not in repr(key) and key.pubkey.hex() in repr(key)
