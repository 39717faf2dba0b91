"""Proof of work: Bitcoin's compact nBits, targets, the PoW check and chainwork (GetBlockProof).

Mirrors Bitcoin Core's `arith_uint256::SetCompact/GetCompact` (negative and overflow flags included)
and `pow.cpp`'s `DeriveTarget`/`CheckProofOfWork`, with Python ints as 256-bit numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashgrad.chain.hashes import hash_to_int
from hashgrad.errors import HeaderError

MASK_256 = (1 << 256) - 1


@dataclass(frozen=True)
class CompactValue:
    value: int
    negative: bool
    overflow: bool


def decode_compact(compact: int) -> CompactValue:
    """SetCompact: the 256-bit value of nBits with Bitcoin Core's negative and overflow flags."""
    size = compact >> 24
    word = compact & 0x007FFFFF
    if size <= 3:
        word >>= 8 * (3 - size)
        value = word
    else:
        value = (word << (8 * (size - 3))) & MASK_256
    negative = word != 0 and bool(compact & 0x00800000)
    overflow = word != 0 and (size > 34 or (word > 0xFF and size > 33) or (word > 0xFFFF and size > 32))
    return CompactValue(value, negative, overflow)


def encode_compact(value: int, negative: bool = False) -> int:
    """GetCompact: the compact form of a 256-bit value (the mantissa is truncated, never rounded up)."""
    size = (value.bit_length() + 7) // 8
    if size <= 3:
        compact = (value & 0xFFFFFFFFFFFFFFFF) << (8 * (3 - size))
    else:
        compact = (value >> (8 * (size - 3))) & 0xFFFFFFFFFFFFFFFF
    if compact & 0x00800000:
        compact >>= 8
        size += 1
    compact |= size << 24
    if negative and (compact & 0x007FFFFF):
        compact |= 0x00800000
    return compact & 0xFFFFFFFF


def compute_target(bits: int, pow_limit: int) -> int:
    """DeriveTarget: the target of nBits, or HeaderError('bad-diffbits') if it is unusable."""
    decoded = decode_compact(bits)
    if decoded.negative or decoded.value == 0 or decoded.overflow or decoded.value > pow_limit:
        raise HeaderError("bad-diffbits", f"nBits 0x{bits:08x} is negative, zero, overflowing or above powLimit")
    return decoded.value


def is_valid_proof_of_work(pow_hash: bytes, bits: int, pow_limit: int) -> bool:
    """CheckProofOfWork: the hash (internal byte order) is at or below the target of nBits."""
    try:
        target = compute_target(bits, pow_limit)
    except HeaderError:
        return False
    return hash_to_int(pow_hash) <= target


def check_proof_of_work(pow_hash: bytes, bits: int, pow_limit: int) -> None:
    if not is_valid_proof_of_work(pow_hash, bits, pow_limit):
        raise HeaderError("high-hash", "proof of work failed")


def compute_block_proof(bits: int) -> int:
    """GetBlockProof: expected hashes for nBits, floor(2^256 / (target + 1)); 0 for unusable bits."""
    decoded = decode_compact(bits)
    if decoded.negative or decoded.overflow or decoded.value == 0:
        return 0
    return (1 << 256) // (decoded.value + 1)
