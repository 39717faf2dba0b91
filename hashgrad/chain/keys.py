"""Bitcoin's keys for hashgrad: BIP340 Schnorr signatures over secp256k1 through coincurve
(libsecp256k1), with 32-byte x-only public keys as account identities.

coincurve's `sign_schnorr` only takes 32-byte messages; BIP340 allows any length (vectors 15-18),
so other lengths go through libsecp256k1's `secp256k1_schnorrsig_sign_custom` with the default
BIP340 nonce function, which gives the same signature as the reference for every length.

Verification calls libsecp256k1 directly on parsed keys kept in a bounded LRU (`parse_xonly_pubkey`):
parsing an x-only key costs a square root, and the same senders sign block after block.
"""

from __future__ import annotations

import os
from functools import lru_cache

from coincurve import PrivateKey
from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from hashgrad.errors import TxError

PUBKEY_SIZE = 32
SIGNATURE_SIZE = 64
PUBKEY_CACHE_SIZE = 32_768  # parsed keys (~200 bytes each): every sender and recipient of ~2 full blocks


class SigningKey:
    """A secp256k1 secret key with its x-only public key (cached; signing reuses the keypair)."""

    __slots__ = ("_key", "pubkey")

    def __init__(self, secret: bytes):
        if len(secret) != 32:
            raise TxError("bad-secret-key", "a secret key is 32 bytes")
        try:
            self._key = PrivateKey(secret)
        except ValueError as exc:
            raise TxError("bad-secret-key", "secret key out of range") from exc
        self.pubkey: bytes = self._key.public_key_xonly.format()

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(PrivateKey().secret)

    @property
    def secret(self) -> bytes:
        return self._key.secret

    def sign(self, message: bytes, aux_rand: bytes | None = None) -> bytes:
        """BIP340 signature over a message of any length (aux randomness as BIP340 recommends)."""
        aux_rand = os.urandom(32) if aux_rand is None else aux_rand
        if len(aux_rand) != 32:
            raise TxError("bad-aux-rand", "BIP340 auxiliary randomness is 32 bytes")
        if len(message) == 32:
            return self._key.sign_schnorr(message, aux_rand)
        return _sign_schnorr_any_length(self._key, message, aux_rand)

    def __repr__(self) -> str:  # never print the secret
        return f"SigningKey(pubkey={self.pubkey.hex()})"


def _sign_schnorr_any_length(key: PrivateKey, message: bytes, aux_rand: bytes) -> bytes:
    """BIP340 signing of a message that is not 32 bytes (libsecp256k1's sign_custom, default nonce)."""
    ctx = key.context.ctx
    keypair = ffi.new("secp256k1_keypair *")
    if not lib.secp256k1_keypair_create(ctx, keypair, key.secret):
        raise TxError("bad-secret-key", "secret key out of range")
    extra = ffi.new("secp256k1_schnorrsig_extraparams *")
    extra.magic = [0xDA, 0x6F, 0xB3, 0x8C]  # SECP256K1_SCHNORRSIG_EXTRAPARAMS_MAGIC
    extra.noncefp = ffi.NULL  # the BIP340 nonce function
    aux = ffi.new("unsigned char[32]", aux_rand)
    extra.ndata = aux
    signature = ffi.new("unsigned char[64]")
    msg = message if message else ffi.NULL
    if not lib.secp256k1_schnorrsig_sign_custom(ctx, signature, msg, len(message), keypair, extra):
        raise TxError("bad-signature", "signing failed")
    out = bytes(ffi.buffer(signature))
    if not is_valid_schnorr(key.public_key_xonly.format(), message, out):
        raise TxError("bad-signature", "signature does not verify")
    return out


@lru_cache(maxsize=PUBKEY_CACHE_SIZE)
def parse_xonly_pubkey(pubkey: bytes):
    """The libsecp256k1 form of a 32-byte x-only key (read-only, shared); ValueError when the bytes
    are not the x coordinate of a curve point. Valid keys only are remembered (exceptions are not)."""
    parsed = ffi.new("secp256k1_xonly_pubkey *")
    if not lib.secp256k1_xonly_pubkey_parse(GLOBAL_CONTEXT.ctx, parsed, pubkey):
        raise ValueError("not an x-only public key")
    return parsed


def clear_pubkey_cache() -> None:
    """Forget every parsed key (benchmarks measure keys never seen before)."""
    parse_xonly_pubkey.cache_clear()


def is_valid_schnorr(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    """BIP340 verification; False for malformed keys or signatures rather than raising."""
    if len(pubkey) != PUBKEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        parsed = parse_xonly_pubkey(bytes(pubkey))
        return lib.secp256k1_schnorrsig_verify(GLOBAL_CONTEXT.ctx, signature, message, len(message), parsed) == 1
    except (ValueError, TypeError):
        return False


def is_valid_pubkey(pubkey: bytes) -> bool:
    if len(pubkey) != PUBKEY_SIZE:
        return False
    try:
        parse_xonly_pubkey(bytes(pubkey))
        return True
    except (ValueError, TypeError):
        return False
