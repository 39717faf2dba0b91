"""Hash functions of the ledger: Bitcoin's SHA256d, BIP340-style tagged hashes, and the display order.

Bitcoin prints hashes byte-reversed ("display order"); internally they are kept as the raw digest.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from hashgrad.chain.encoding import parse_hex

ZERO_HASH = b"\x00" * 32  # the null hash: genesis parent, empty Merkle root, coinbase wtxid, "no stop"


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


@lru_cache(maxsize=64)
def _tag_prefix(tag: str) -> bytes:
    tag_hash = hashlib.sha256(tag.encode()).digest()
    return tag_hash + tag_hash


def tagged_hash(tag: str, data: bytes) -> bytes:
    """BIP340's hash_tag(x) = SHA256(SHA256(tag) || SHA256(tag) || x)."""
    return hashlib.sha256(_tag_prefix(tag) + data).digest()


def hash_to_display(digest: bytes) -> str:
    return digest[::-1].hex()


def display_to_hash(text: str) -> bytes:
    """The internal-order bytes of a hash written in display order (64 hex digits); DecodeError bad-hash."""
    return parse_hex(text, "hash", size=32, reason="bad-hash")[::-1]


def hash_to_int(digest: bytes) -> int:
    """A hash as the 256-bit number Bitcoin compares against the target (little-endian bytes)."""
    return int.from_bytes(digest, "little")
