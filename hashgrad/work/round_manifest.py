"""A miner's round manifest: its one commitment per epoch over the artifacts of its rounds.

With rounds inside epochs (work/rounds.py) a miner publishes one artifact per round, but the chain
keeps one work commitment per miner per epoch. The manifest is that commitment's subject: an
artifact (named by its SHA-256, like any other) listing the miner's round artifacts in round order
and the Merkle root over their ids (chain/merkle.py, Bitcoin's tree). The miner commits the
manifest's id on chain in the commit window and reveals it after, so the chain's commit/reveal pair
carries the root, and the round artifacts are found (and fetched by hash) from the manifest.

Layout (big-endian): b"HGRM" | job u16 | epoch u32 | hotkey 32 | root 32 | count u16 |
count x (round u16 | artifact id 32), rounds strictly increasing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hashgrad.chain.merkle import compute_merkle_root
from hashgrad.errors import WorkError

MAGIC = b"HGRM"
HEAD = struct.Struct(">4sHI32s32sH")
ENTRY = struct.Struct(">H32s")
MAX_ROUNDS = 4096


@dataclass(frozen=True)
class RoundManifest:
    job_id: int
    epoch: int
    hotkey: bytes
    entries: tuple[tuple[int, bytes], ...]  # (in-epoch round, artifact id), rounds increasing

    @property
    def root(self) -> bytes:
        return compute_manifest_root(self.entries)

    def get_artifact(self, round_index: int) -> bytes | None:
        return dict(self.entries).get(round_index)


def compute_manifest_root(entries: tuple[tuple[int, bytes], ...]) -> bytes:
    """The Merkle root over the round artifacts' ids, in round order."""
    return compute_merkle_root([artifact_id for _, artifact_id in entries])[0] if entries else bytes(32)


def encode_manifest(manifest: RoundManifest) -> bytes:
    head = HEAD.pack(MAGIC, manifest.job_id, manifest.epoch, manifest.hotkey, manifest.root, len(manifest.entries))
    return head + b"".join(ENTRY.pack(r, artifact_id) for r, artifact_id in manifest.entries)


def decode_manifest(data: bytes, rounds_per_epoch: int) -> RoundManifest:
    """Strict decoding of untrusted bytes; WorkError `bad-round-manifest` for anything off."""
    if len(data) < HEAD.size:
        raise WorkError("bad-round-manifest", "too short")
    magic, job_id, epoch, hotkey, root, count = HEAD.unpack_from(data)
    if magic != MAGIC or count > min(rounds_per_epoch, MAX_ROUNDS) or len(data) != HEAD.size + count * ENTRY.size:
        raise WorkError("bad-round-manifest", "wrong magic, count or length")
    entries = tuple(ENTRY.unpack_from(data, HEAD.size + i * ENTRY.size) for i in range(count))
    rounds = [r for r, _ in entries]
    if rounds != sorted(set(rounds)) or (rounds and rounds[-1] >= rounds_per_epoch):
        raise WorkError("bad-round-manifest", "rounds not increasing or out of range")
    manifest = RoundManifest(job_id, epoch, hotkey, entries)
    if manifest.root != root:
        raise WorkError("bad-round-manifest", "the Merkle root does not match the listed artifacts")
    return manifest
