"""Hashes of the useful work: tagged SHA-256, seeds, commitments and seeded sampling.

Everything here is pure and torch-free, and every byte that gets hashed has a fixed `struct`
layout, so another implementation (or the chain layer) can recompute the same values:

- `compute_tagged_hash(tag, msg)` is BIP340's tagged hash: sha256(sha256(tag) || sha256(tag) || msg).
  A distinct tag per use keeps a hash made for one purpose from being valid for another.
- `compute_commitment(...)` binds an artifact to the miner's hotkey, the job, the epoch and the
  checkpoint it was trained from, so a commitment can neither be stolen nor replayed.
- `compute_sample(...)` draws indices without replacement from a SHA-256 counter stream, so page
  assignment and batch order do not depend on numpy's or torch's RNG implementation.
"""

from __future__ import annotations

import hashlib
import struct

from hashgrad.chain.coordination import compute_work_commitment
from hashgrad.chain.jobs import MAX_JOB_ID
from hashgrad.errors import WorkError

HASH_SIZE = 32
HOTKEY_SIZE = 32

TAG_SEED = "hashgrad/work/seed"
TAG_STREAM = "hashgrad/work/stream"


def compute_tagged_hash(tag: str, msg: bytes) -> bytes:
    """BIP340 tagged hash: sha256(sha256(tag) || sha256(tag) || msg)."""
    tag_hash = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(tag_hash + tag_hash + msg).digest()


def compute_sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def check_bytes32(value: bytes, name: str) -> bytes:
    """Raise unless `value` is exactly 32 bytes (a hash, seed or x-only hotkey)."""
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        raise WorkError("bad-length", f"{name} must be 32 bytes")
    return bytes(value)


def compute_commitment(
    artifact_id: bytes, hotkey: bytes, epoch: int, job_id: int, base_checkpoint_hash: bytes
) -> bytes:
    """The 32-byte commitment a miner posts on chain before revealing its artifact.

    It is the chain's own rule (`hashgrad.chain.coordination.compute_work_commitment`), so what a
    validator checks here is exactly what block connect checks at the reveal.
    """
    if not 0 <= job_id <= MAX_JOB_ID or not 0 <= epoch < 2**32:
        raise WorkError("bad-commitment-field", "job_id must fit u16 and epoch u32")
    return compute_work_commitment(
        check_bytes32(artifact_id, "artifact_id"),
        check_bytes32(hotkey, "hotkey"),
        epoch,
        job_id,
        check_bytes32(base_checkpoint_hash, "base_checkpoint_hash"),
    )


def compute_seed(seed: bytes, label: str, *parts: bytes | int) -> bytes:
    """A sub-seed: tagged hash of seed || label || parts (ints as u64 LE, bytes length-prefixed)."""
    msg = bytearray(check_bytes32(seed, "seed"))
    label_bytes = label.encode()
    msg += struct.pack("<H", len(label_bytes)) + label_bytes
    for part in parts:
        if isinstance(part, int):
            msg += b"i" + struct.pack("<Q", part)
        else:
            msg += b"b" + struct.pack("<I", len(part)) + bytes(part)
    return compute_tagged_hash(TAG_SEED, bytes(msg))


class HashStream:
    """Uniform integers from a SHA-256 counter stream (deterministic on every platform)."""

    def __init__(self, seed: bytes):
        self._seed = check_bytes32(seed, "seed")
        self._counter = 0

    def next_u64(self) -> int:
        block = compute_tagged_hash(TAG_STREAM, self._seed + struct.pack("<Q", self._counter))
        self._counter += 1
        return int.from_bytes(block[:8], "little")

    def next_below(self, bound: int) -> int:
        """Uniform in [0, bound) by rejection sampling (no modulo bias)."""
        if bound <= 0:
            raise WorkError("bad-sample-bound", f"bound {bound}")
        limit = (2**64 // bound) * bound
        while True:
            value = self.next_u64()
            if value < limit:
                return value % bound

    def next_unit(self) -> float:
        """Uniform float in [0, 1) with 53 bits."""
        return (self.next_u64() >> 11) / float(2**53)


def compute_sample(seed: bytes, population: int, count: int) -> list[int]:
    """`count` distinct indices of range(population), in draw order (a partial Fisher-Yates)."""
    if not 0 <= count <= population:
        raise WorkError("bad-sample-size", f"cannot draw {count} of {population}")
    stream = HashStream(seed)
    swapped: dict[int, int] = {}
    picked = []
    for i in range(count):
        j = i + stream.next_below(population - i)
        picked.append(swapped.get(j, j))
        swapped[j] = swapped.get(i, i)
    return picked


def compute_permutation(seed: bytes, size: int) -> list[int]:
    return compute_sample(seed, size, size)
