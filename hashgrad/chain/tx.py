"""hashgrad's transactions: one versioned, kind-tagged canonical encoding, signed with BIP340.

Layout (all integers little-endian):
    version u8 | kind u8 | sender 32 | nonce u64 | fee u64 | payload (CompactSize-prefixed) | signature 64

The signature commits to `tagged_hash("hashgrad/tx", network magic || everything but the signature)`,
so a transaction cannot be replayed on another network. The txid is SHA256d of the whole encoding.
New kinds (registration, stake, commit/reveal...) add a kind tag and a payload class; nothing already
encoded changes. The coinbase has kind 0, a zero sender and signature, and the height as its nonce.

A Transaction is frozen, so its encodings, txid and decoded payload are computed once and kept on
the object (`computed_once`): checking, applying and indexing a block then share one decode.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from hashgrad.chain.coordination_tx import COORD_PAYLOADS
from hashgrad.chain.encoding import ByteReader, encode_var_bytes
from hashgrad.chain.hashes import sha256d, tagged_hash
from hashgrad.chain.keys import SIGNATURE_SIZE, SigningKey, is_valid_schnorr
from hashgrad.errors import TxError

TX_VERSION = 1
MAX_PAYLOAD_SIZE = 128_000  # a decode bound above any network's max_tx_size; check_transaction enforces that
MAX_COINBASE_EXTRA = 100
ZERO_KEY = b"\x00" * 32
ZERO_SIG = b"\x00" * SIGNATURE_SIZE
_FIXED = struct.Struct("<BB32sQQ")


class computed_once:
    """functools.cached_property without its per-object lock (3.11 takes one on every first read):
    the values here are pure functions of frozen fields, so two threads racing compute the same."""

    def __init__(self, func):
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)  # later reads find the instance attribute
        return value


class TxKind(IntEnum):
    COINBASE = 0
    TRANSFER = 1


@dataclass(frozen=True)
class Transaction:
    version: int
    kind: int
    sender: bytes
    nonce: int
    fee: int
    payload: bytes
    signature: bytes = ZERO_SIG

    def serialize_unsigned(self) -> bytes:
        return self._unsigned_encoding

    def serialize(self) -> bytes:
        return self._encoding

    @computed_once
    def _unsigned_encoding(self) -> bytes:
        return _FIXED.pack(self.version, self.kind, self.sender, self.nonce, self.fee) + encode_var_bytes(self.payload)

    @computed_once
    def _encoding(self) -> bytes:
        return self._unsigned_encoding + self.signature

    @computed_once
    def txid(self) -> bytes:
        return sha256d(self.serialize())

    @computed_once
    def size(self) -> int:
        return len(self.serialize())

    @computed_once
    def decoded_payload(self):
        """The typed payload (see decode_payload); a failed decode raises each time and is not kept."""
        payload_type = PAYLOAD_TYPES.get(self.kind)
        if payload_type is None:
            raise TxError("bad-txns-kind", f"unknown transaction kind {self.kind}")
        return payload_type.deserialize(self.payload)

    def compute_sighash(self, magic: bytes) -> bytes:
        return tagged_hash("hashgrad/tx", magic + self.serialize_unsigned())

    def is_coinbase(self) -> bool:
        return self.kind == TxKind.COINBASE


def read_transaction(reader: ByteReader) -> Transaction:
    version, kind, sender, nonce, fee = _FIXED.unpack(reader.read(_FIXED.size))
    payload = reader.read_var_bytes(MAX_PAYLOAD_SIZE)
    signature = reader.read(SIGNATURE_SIZE)
    return Transaction(version, kind, sender, nonce, fee, payload, signature)


def parse_transaction(data: bytes) -> Transaction:
    reader = ByteReader(data)
    tx = read_transaction(reader)
    reader.check_done()
    return tx


@dataclass(frozen=True)
class TransferPayload:
    recipient: bytes
    amount: int

    def serialize(self) -> bytes:
        return self.recipient + struct.pack("<Q", self.amount)

    @classmethod
    def deserialize(cls, data: bytes) -> TransferPayload:
        if len(data) != 40:
            raise TxError("bad-txns-payload", "a transfer payload is 40 bytes")
        return cls(data[:32], struct.unpack("<Q", data[32:])[0])


@dataclass(frozen=True)
class CoinbasePayload:
    recipient: bytes
    amount: int
    extra: bytes = b""

    def serialize(self) -> bytes:
        return self.recipient + struct.pack("<Q", self.amount) + encode_var_bytes(self.extra)

    @classmethod
    def deserialize(cls, data: bytes) -> CoinbasePayload:
        reader = ByteReader(data)
        try:
            payload = cls(reader.read(32), reader.read_u64(), reader.read_var_bytes(MAX_COINBASE_EXTRA))
            reader.check_done()
        except Exception as exc:
            raise TxError("bad-cb-payload", "malformed coinbase payload") from exc
        return payload


# kind -> payload class (its `deserialize`)
PAYLOAD_TYPES: dict[int, Any] = {TxKind.COINBASE: CoinbasePayload, TxKind.TRANSFER: TransferPayload, **COORD_PAYLOADS}


def decode_payload(tx: Transaction):
    """The typed payload of a transaction; TxError for unknown kinds or malformed bytes.
    Decoded once per Transaction object (payloads are frozen, so the shared copy cannot change)."""
    return tx.decoded_payload


def make_coinbase(height: int, recipient: bytes, amount: int, extra: bytes = b"") -> Transaction:
    payload = CoinbasePayload(recipient, amount, extra).serialize()
    return Transaction(TX_VERSION, TxKind.COINBASE, ZERO_KEY, height, 0, payload)


def sign_transaction(
    key: SigningKey, magic: bytes, kind: int, nonce: int, fee: int, payload: bytes, aux_rand: bytes | None = None
) -> Transaction:
    unsigned = Transaction(TX_VERSION, kind, key.pubkey, nonce, fee, payload)
    signature = key.sign(unsigned.compute_sighash(magic), aux_rand)
    return Transaction(TX_VERSION, kind, key.pubkey, nonce, fee, payload, signature)


def make_transfer(key: SigningKey, magic: bytes, nonce: int, recipient: bytes, amount: int, fee: int) -> Transaction:
    return sign_transaction(key, magic, TxKind.TRANSFER, nonce, fee, TransferPayload(recipient, amount).serialize())


def is_valid_signature(tx: Transaction, magic: bytes) -> bool:
    return is_valid_schnorr(tx.sender, tx.compute_sighash(magic), tx.signature)
