"""A miner's reveal and how it travels: Δ and milestone states as bytes, cut into content-addressed chunks.

A validator of another hardware class audits an update by tolerance replay from the miner's
milestone states (work.crossclass). Those states are large (the demo model's reveal is 16 vectors of
0.84M floats, 54 MB) and a node stores and relays artifacts of at most 8 MiB, so a miner stores its
reveal as chunks of at most REVEAL_CHUNK_BYTES plus a manifest naming them:

    manifest = canonical JSON {"format": REVEAL_MANIFEST_FORMAT, "size": total bytes,
                               "chunks": [sha256 hex of chunk 0, chunk 1, ...]}

Chunk i holds bytes [i·C, (i+1)·C) of the reveal (C = REVEAL_CHUNK_BYTES; the last may be short),
so a manifest is a function of the reveal's bytes alone. The update header names the manifest's
sha256 (`UpdateHeader.reveal`); the update's id is committed on chain before any audit is drawn,
and the reveal's content is bound a second time by the header's delta_hash and milestone hashes
(crossclass.decode_reveal): a miner cannot choose what it reveals after seeing the draw.

A validator fetches the manifest and the chunks only when it audits an update of another class,
and checks everything it fetched here: the manifest's size and shape, the count of chunks against
the job's reveal limit (WorkParams.max_reveal_bytes), each chunk's length and hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from safetensors.torch import save as safetensors_save

from hashgrad.errors import WorkError
from hashgrad.safejson import parse_json
from hashgrad.work.hashing import compute_sha256
from hashgrad.work.model import compute_header_json
from hashgrad.work.params import WorkParams

if TYPE_CHECKING:  # a type only: work.miner imports this module to name its reveal in the update header
    from hashgrad.work.miner import InnerState

REVEAL_FORMAT = "hashgrad-reveal-v1"
REVEAL_MANIFEST_FORMAT = "hashgrad-reveal-manifest-v1"
REVEAL_CHUNK_BYTES = 4 * 1024 * 1024  # half the node's artifact limit (node.rpc_artifacts.MAX_ARTIFACT_BYTES)
MAX_MANIFEST_BYTES = 64 * 1024  # room for 900 chunk hashes; the job's limit allows far fewer
STATE_PARTS = ("params", "exp_avg", "exp_avg_sq")
NO_REVEAL = bytes(32)  # an update header's `reveal` when the miner published none


@dataclass(frozen=True)
class RevealManifest:
    size: int  # bytes of the whole reveal
    chunks: tuple[bytes, ...]  # sha256 of each chunk, in order


@dataclass(frozen=True)
class RevealPackage:
    """What a miner stores on its node: the chunks, then the manifest (its id goes in the update header)."""

    manifest: bytes
    chunks: tuple[bytes, ...]

    @property
    def manifest_id(self) -> bytes:
        return compute_sha256(self.manifest)

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.chunks)


def encode_reveal(delta: torch.Tensor, states: tuple[InnerState, ...]) -> bytes:
    """Δ and the milestone states (weights and AdamW moments) as one safetensors file."""
    tensors = {"delta": delta.detach().to(torch.float32).cpu().contiguous()}
    for state in states:
        for part in STATE_PARTS:
            tensors[f"s{state.step}.{part}"] = getattr(state, part).detach().to(torch.float32).cpu().clone()
    header = {"format": REVEAL_FORMAT, "steps": [s.step for s in states]}
    return safetensors_save(tensors, metadata={"hashgrad": compute_header_json(header)})


def compute_reveal_package(reveal: bytes) -> RevealPackage:
    """The chunks of a reveal and their manifest (a function of the bytes alone)."""
    chunks = tuple(reveal[i : i + REVEAL_CHUNK_BYTES] for i in range(0, len(reveal), REVEAL_CHUNK_BYTES))
    manifest = {
        "format": REVEAL_MANIFEST_FORMAT,
        "size": len(reveal),
        "chunks": [compute_sha256(c).hex() for c in chunks],
    }
    return RevealPackage(compute_header_json(manifest).encode(), chunks)


def compute_chunk_count(size: int) -> int:
    return -(-size // REVEAL_CHUNK_BYTES)


def compute_max_chunks(params: WorkParams) -> int:
    return compute_chunk_count(params.max_reveal_bytes)


def decode_reveal_manifest(data: bytes, params: WorkParams) -> RevealManifest:
    """A manifest fetched from a peer, checked: bounded JSON, exact fields, a size within the job's
    reveal limit, as many 32-byte hashes as that size needs."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise WorkError("reveal-too-large", f"a manifest of {len(data)} bytes > {MAX_MANIFEST_BYTES}")
    raw = parse_json(data, WorkError, "bad-reveal-manifest", MAX_MANIFEST_BYTES, 4)
    if not isinstance(raw, dict) or set(raw) != {"format", "size", "chunks"}:
        raise WorkError("bad-reveal-manifest", "a manifest holds format, size and chunks")
    size, chunks = raw["size"], raw["chunks"]
    if raw["format"] != REVEAL_MANIFEST_FORMAT:
        raise WorkError("bad-reveal-manifest", f"format must be {REVEAL_MANIFEST_FORMAT}")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise WorkError("bad-reveal-manifest", "size must be a positive integer")
    if size > params.max_reveal_bytes:
        raise WorkError("reveal-too-large", f"{size} bytes > the job's {params.max_reveal_bytes}")
    if not isinstance(chunks, list):
        raise WorkError("bad-reveal-manifest", "chunks must be a list")
    if len(chunks) > compute_max_chunks(params):
        raise WorkError("reveal-too-many-chunks", f"{len(chunks)} chunks > {compute_max_chunks(params)}")
    if len(chunks) != compute_chunk_count(size):
        raise WorkError(
            "bad-reveal-manifest", f"{size} bytes make {compute_chunk_count(size)} chunks, not {len(chunks)}"
        )
    if not all(isinstance(c, str) and len(c) == 64 and all(x in "0123456789abcdef" for x in c) for c in chunks):
        raise WorkError("bad-reveal-manifest", "each chunk is named by 64 lowercase hex digits")
    return RevealManifest(size, tuple(bytes.fromhex(c) for c in chunks))


def compute_chunk_size(manifest: RevealManifest, index: int) -> int:
    return min(REVEAL_CHUNK_BYTES, manifest.size - index * REVEAL_CHUNK_BYTES)


def check_reveal_chunk(manifest: RevealManifest, index: int, data: bytes) -> bytes:
    """Chunk `index` as fetched, checked against the manifest: its length, then its hash."""
    if len(data) != compute_chunk_size(manifest, index):
        raise WorkError(
            "bad-reveal-chunk", f"chunk {index} holds {len(data)} bytes, not {compute_chunk_size(manifest, index)}"
        )
    if compute_sha256(data) != manifest.chunks[index]:
        raise WorkError("reveal-chunk-mismatch", f"chunk {index} does not hash to the manifest's entry")
    return data


def join_reveal_chunks(manifest: RevealManifest, chunks: list[bytes]) -> bytes:
    """The reveal from its checked chunks (check_reveal_chunk on each, in order)."""
    if len(chunks) != len(manifest.chunks):
        raise WorkError("bad-reveal-chunk", f"{len(chunks)} chunks, the manifest names {len(manifest.chunks)}")
    return b"".join(check_reveal_chunk(manifest, i, c) for i, c in enumerate(chunks))
