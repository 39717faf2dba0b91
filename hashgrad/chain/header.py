"""Bitcoin's 80-byte block header, used unchanged by hashgrad so Bitcoin miners can merge-mine it.

Layout: nVersion int32 LE | hashPrevBlock 32 | hashMerkleRoot 32 | nTime u32 | nBits u32 | nNonce u32.
The block hash is SHA256d of these 80 bytes. Version bit 0x100 flags an AuxPoW block and the high 16
bits carry the chain ID (Namecoin's convention).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property

from hashgrad.chain.hashes import hash_to_display, sha256d
from hashgrad.errors import DecodeError

HEADER_SIZE = 80
VERSION_AUXPOW = 1 << 8
VERSION_CHAIN_START = 1 << 16
_HEADER = struct.Struct("<i32s32sIII")


@dataclass(frozen=True)
class BlockHeader:
    version: int
    prev_hash: bytes
    merkle_root: bytes
    time: int
    bits: int
    nonce: int

    def serialize(self) -> bytes:
        return _HEADER.pack(self.version, self.prev_hash, self.merkle_root, self.time, self.bits, self.nonce)

    @classmethod
    def deserialize(cls, data: bytes) -> BlockHeader:
        if len(data) != HEADER_SIZE:
            raise DecodeError("bad-header-length", f"a header is 80 bytes, got {len(data)}")
        return cls(*_HEADER.unpack(data))

    @cached_property
    def hash(self) -> bytes:
        return sha256d(self.serialize())

    @property
    def hash_hex(self) -> str:
        return hash_to_display(self.hash)

    @property
    def chain_id(self) -> int:
        return self.version >> 16

    @property
    def base_version(self) -> int:
        return self.version % VERSION_AUXPOW

    def is_auxpow(self) -> bool:
        return bool(self.version & VERSION_AUXPOW)

    def with_nonce(self, nonce: int) -> BlockHeader:
        return BlockHeader(self.version, self.prev_hash, self.merkle_root, self.time, self.bits, nonce)


def iter_headers(data: bytes):
    """Yield the headers of a buffer of concatenated 80-byte headers (the length is checked first)."""
    if len(data) % HEADER_SIZE:
        raise DecodeError("bad-header-length", f"{len(data)} bytes is not a multiple of 80")
    for offset in range(0, len(data), HEADER_SIZE):
        yield BlockHeader(*_HEADER.unpack_from(data, offset))
