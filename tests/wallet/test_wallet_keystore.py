"""Tests for hashgrad.wallet.keystore: scrypt + AES-256-GCM sealing of one secret key."""

from __future__ import annotations

import pytest

from hashgrad.errors import WalletError
from hashgrad.wallet.keystore import PRODUCTION_KDF, KdfParams, open_secret, seal_secret

SECRET = bytes(range(32))
AAD = b"hashgrad-wallet/1\0regtest\0coldkey\0" + b"\x02" * 32
KDF = KdfParams(n=2**10)


def _flip_hex(text: str, index: int = 0) -> str:
    value = bytes.fromhex(text)
    return (value[:index] + bytes([value[index] ^ 1]) + value[index + 1 :]).hex()


def test_seal_then_open_round_trips():
    record = seal_secret(SECRET, "pw", AAD, KDF)
    assert open_secret(record, "pw", AAD) == SECRET
    assert record["kdf"] == "scrypt" and record["cipher"] == "aes-256-gcm"
    assert (record["n"], record["r"], record["p"]) == (1024, 8, 1)
    assert SECRET.hex() not in str(record)


def test_fresh_salt_and_nonce_each_time_given_ones_are_deterministic():
    assert seal_secret(SECRET, "pw", AAD, KDF) != seal_secret(SECRET, "pw", AAD, KDF)
    salt, nonce = b"s" * 16, b"n" * 12
    assert seal_secret(SECRET, "pw", AAD, KDF, salt, nonce) == seal_secret(SECRET, "pw", AAD, KDF, salt, nonce)


def test_production_cost_is_scrypt_2_15_8_1():
    assert (PRODUCTION_KDF.n, PRODUCTION_KDF.r, PRODUCTION_KDF.p) == (2**15, 8, 1)
    record = seal_secret(SECRET, "pw", AAD)
    assert record["n"] == 2**15 and open_secret(record, "pw", AAD) == SECRET


def test_wrong_password():
    record = seal_secret(SECRET, "pw", AAD, KDF)
    for password in ("pw ", "PW", "", "p"):
        with pytest.raises(WalletError) as info:
            open_secret(record, password, AAD)
        assert info.value.reason == "wrong-password"


@pytest.mark.parametrize("field, index", [("ciphertext", 0), ("ciphertext", 47), ("nonce", 5), ("salt", 15)])
def test_tampered_record_does_not_open(field, index):
    record = seal_secret(SECRET, "pw", AAD, KDF)
    record[field] = _flip_hex(record[field], index)
    with pytest.raises(WalletError) as info:
        open_secret(record, "pw", AAD)
    assert info.value.reason == "wrong-password"


def test_record_is_bound_to_its_associated_data():
    record = seal_secret(SECRET, "pw", AAD, KDF)
    with pytest.raises(WalletError) as info:
        open_secret(record, "pw", AAD.replace(b"regtest", b"devnet\0"))
    assert info.value.reason == "wrong-password"


def test_changed_cost_does_not_open():
    record = seal_secret(SECRET, "pw", AAD, KDF)
    record["n"] = 2**11
    with pytest.raises(WalletError) as info:
        open_secret(record, "pw", AAD)
    assert info.value.reason == "wrong-password"


@pytest.mark.parametrize(
    "change",
    [
        {"kdf": "pbkdf2"},
        {"cipher": "chacha20-poly1305"},
        {"n": 1000},
        {"n": 2**9},
        {"n": "1024"},
        {"n": True},
        {"r": 0},
        {"r": 33},
        {"p": 0},
        {"n": 2**20, "r": 8},  # the last would need 1 GiB
        {"salt": "zz" * 16},
        {"salt": "00" * 15},
        {"salt": " 0" * 16},
        {"nonce": "00" * 16},
        {"ciphertext": "00" * 32},
        {"ciphertext": None},
    ],
)
def test_malformed_record_is_corrupt(change):
    record = seal_secret(SECRET, "pw", AAD, KDF)
    record.update(change)
    with pytest.raises(WalletError) as info:
        open_secret(record, "pw", AAD)
    assert info.value.reason == "corrupt-wallet"


def test_passwords_are_nfc_normalised_and_size_limited():
    record = seal_secret(SECRET, "caf\u00e9", AAD, KDF)
    assert open_secret(record, "cafe\u0301", AAD) == SECRET
    with pytest.raises(WalletError) as info:
        seal_secret(SECRET, "x" * 1025, AAD, KDF)
    assert info.value.reason == "bad-password"


def test_secret_must_be_32_bytes():
    with pytest.raises(WalletError) as info:
        seal_secret(b"\x01" * 31, "pw", AAD, KDF)
    assert info.value.reason == "bad-secret-key"
