"""One secret key sealed under a password: scrypt derives a 256-bit key, AES-256-GCM seals the secret.

A sealed record is a plain JSON object:

    {"kdf": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<32 hex>",
     "cipher": "aes-256-gcm", "nonce": "<24 hex>", "ciphertext": "<96 hex: 32-byte secret + 16-byte tag>"}

The caller passes associated data (the wallet's network, the key's role and public key) that GCM
authenticates, so a record pasted into another slot or another network does not open. A wrong
password and a modified record look the same to an AEAD; both give `wrong-password`. A record that
is not even well-formed gives `corrupt-wallet`. Passwords are UTF-8 after NFC normalisation, so the
same characters typed on different systems give the same key.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hashgrad.chain.encoding import parse_hex
from hashgrad.errors import WalletError

KDF_NAME = "scrypt"
CIPHER_NAME = "aes-256-gcm"
SECRET_SIZE = 32
SALT_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
MAX_PASSWORD_BYTES = 1024
MIN_LOG2_N = 10  # 2**10 is the cheapest cost accepted at all (tests only, see wallet.get_kdf_params)
MAX_SCRYPT_MEMORY = 256 * 1024 * 1024  # refuse records that would make us allocate more than this


@dataclass(frozen=True)
class KdfParams:
    """scrypt's cost: n (CPU/memory, a power of two), r (block size), p (parallelism)."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    def check(self) -> KdfParams:
        """Raise corrupt-wallet for costs that are malformed, too weak to be real, or too big to run."""
        n, r, p = self.n, self.r, self.p
        if not all(type(v) is int for v in (n, r, p)):
            raise WalletError("corrupt-wallet", "scrypt parameters must be integers")
        if n < 2**MIN_LOG2_N or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise WalletError("corrupt-wallet", f"unsupported scrypt parameters n={n} r={r} p={p}")
        if 128 * r * n > MAX_SCRYPT_MEMORY:
            raise WalletError("corrupt-wallet", f"scrypt parameters n={n} r={r} need more than 256 MiB")
        return self


PRODUCTION_KDF = KdfParams()


def compute_password_bytes(password: str) -> bytes:
    data = unicodedata.normalize("NFC", password).encode("utf-8")
    if len(data) > MAX_PASSWORD_BYTES:
        raise WalletError("bad-password", f"a password is at most {MAX_PASSWORD_BYTES} bytes")
    return data


def compute_key(password: str, salt: bytes, kdf: KdfParams) -> bytes:
    """The 32-byte AEAD key scrypt derives from a password and salt."""
    kdf.check()
    maxmem = 128 * kdf.r * (kdf.n + kdf.p + 2) + 1024 * 1024
    return hashlib.scrypt(
        compute_password_bytes(password), salt=salt, n=kdf.n, r=kdf.r, p=kdf.p, maxmem=maxmem, dklen=32
    )


def seal_secret(
    secret: bytes,
    password: str,
    aad: bytes,
    kdf: KdfParams = PRODUCTION_KDF,
    salt: bytes | None = None,
    nonce: bytes | None = None,
) -> dict:
    """A record holding `secret` encrypted under `password`, bound to `aad`. Fresh salt and nonce by default."""
    if len(secret) != SECRET_SIZE:
        raise WalletError("bad-secret-key", "a secret key is 32 bytes")
    salt = os.urandom(SALT_SIZE) if salt is None else salt
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    if len(salt) != SALT_SIZE or len(nonce) != NONCE_SIZE:
        raise WalletError("bad-keystore", "salt is 16 bytes and nonce 12")
    ciphertext = AESGCM(compute_key(password, salt, kdf)).encrypt(nonce, secret, aad)
    return {
        "kdf": KDF_NAME,
        "n": kdf.n,
        "r": kdf.r,
        "p": kdf.p,
        "salt": salt.hex(),
        "cipher": CIPHER_NAME,
        "nonce": nonce.hex(),
        "ciphertext": ciphertext.hex(),
    }


def open_secret(record: dict, password: str, aad: bytes) -> bytes:
    """The 32-byte secret of a sealed record; wrong-password if it does not authenticate."""
    kdf, salt, nonce, ciphertext = parse_record(record)
    try:
        return AESGCM(compute_key(password, salt, kdf)).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise WalletError(
            "wrong-password", "the password does not open this wallet (or its file was modified)"
        ) from None


def parse_record(record: dict) -> tuple[KdfParams, bytes, bytes, bytes]:
    """(kdf, salt, nonce, ciphertext) of a well-formed record; corrupt-wallet otherwise."""
    if not isinstance(record, dict) or record.get("kdf") != KDF_NAME or record.get("cipher") != CIPHER_NAME:
        raise WalletError("corrupt-wallet", f"a key record must use {KDF_NAME} and {CIPHER_NAME}")
    kdf = KdfParams(record.get("n"), record.get("r"), record.get("p")).check()
    salt, nonce, ciphertext = (
        parse_hex(record.get(name), name, size=size, reason="corrupt-wallet", error=WalletError)
        for name, size in (("salt", SALT_SIZE), ("nonce", NONCE_SIZE), ("ciphertext", SECRET_SIZE + TAG_SIZE))
    )
    return kdf, salt, nonce, ciphertext
