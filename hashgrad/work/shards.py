"""Token shards: a dataset cut by a tokenizer into content-addressed shards, and the manifest naming them.

    manifest (format hashgrad-dataset-v2): tokenizer id (sha256 of tokenizer.json, or "bytes"),
        vocab_size, token_bytes (1, 2 or 4: little-endian unsigned), page_tokens, shard_pages,
        num_pages, shards (sha256 hex of each shard's bytes), heldout (the pages of the held-out shards)
    shard i = pages i*shard_pages .. (the last shard may hold fewer), page_tokens tokens each,
        stored as `shards/<sha256 hex>` beside the manifest

Pages and windows are read exactly as in data.py (v1's byte pages), so assignment, batches, scoring
and audits do not change. `ShardedPages` loads a shard the first time one of its pages is read: from
disk, or else through `fetch(hash)` (a node's artifact store, which gets it from peers), and every
shard's sha256 is checked before use: one that fails is refused with `bad-shard-hash`, never used.
A miner thus fetches only the shards holding the pages it is assigned.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hashgrad.errors import WorkError
from hashgrad.work.hashing import compute_sha256

SHARDED_FORMAT = "hashgrad-dataset-v2"
SHARDS_DIR = "shards"
MAX_SHARD_BYTES = 8 * 1024 * 1024  # what one artifact may hold (putartifact's limit)
MAX_DATASET_TOKENS = 1 << 36
TOKEN_DTYPES: dict[int, np.dtype] = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4")}
MANIFEST_FIELDS = {
    "format",
    "source",
    "tokenizer",
    "vocab_size",
    "token_bytes",
    "page_tokens",
    "shard_pages",
    "num_pages",
    "shards",
    "heldout",
}

Fetch = Callable[[bytes], bytes]


def compute_token_bytes(vocab_size: int) -> int:
    return 1 if vocab_size <= 1 << 8 else 2 if vocab_size <= 1 << 16 else 4


def compute_heldout_shards(num_shards: int) -> list[int]:
    """A fixed, evenly spread 1/32 of the shards (at least one), never assigned to miners."""
    count = max(1, num_shards // 32)
    stride = num_shards // count
    return [k * stride + stride // 2 for k in range(count)]


def compute_shard_page_range(index: int, shard_pages: int, num_pages: int) -> range:
    return range(index * shard_pages, min((index + 1) * shard_pages, num_pages))


def compute_heldout_pages(num_pages: int, shard_pages: int) -> list[int]:
    num_shards = -(-num_pages // shard_pages)
    return [p for s in compute_heldout_shards(num_shards) for p in compute_shard_page_range(s, shard_pages, num_pages)]


def is_sharded_manifest(manifest: object) -> bool:
    return isinstance(manifest, dict) and manifest.get("format") == SHARDED_FORMAT


def check_sharded_manifest(manifest: object) -> dict:
    """Raise WorkError unless a v2 manifest is well formed and follows the fixed rules; returns it."""
    if not isinstance(manifest, dict) or set(manifest) != MANIFEST_FIELDS or manifest["format"] != SHARDED_FORMAT:
        raise WorkError("bad-manifest", f"expected fields {sorted(MANIFEST_FIELDS)} and format {SHARDED_FORMAT}")
    ints = [manifest[k] for k in ("vocab_size", "token_bytes", "page_tokens", "shard_pages", "num_pages")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in ints):
        raise WorkError("bad-manifest", "sizes must be positive integers")
    vocab, token_bytes, page_tokens, shard_pages, num_pages = ints
    if token_bytes != compute_token_bytes(vocab):
        raise WorkError("bad-manifest", f"token_bytes must be {compute_token_bytes(vocab)} for vocab_size {vocab}")
    if page_tokens * shard_pages * token_bytes > MAX_SHARD_BYTES or page_tokens * num_pages > MAX_DATASET_TOKENS:
        raise WorkError("dataset-too-large", "a shard or the dataset exceeds its size limit")
    shards = manifest["shards"]
    if (
        not isinstance(shards, list)
        or len(shards) != -(-num_pages // shard_pages)
        or len(shards) < 2
        or not all(isinstance(h, str) and len(h) == 64 and set(h) <= set("0123456789abcdef") for h in shards)
    ):
        raise WorkError("bad-manifest", "shards must list one sha256 hex per shard (at least two shards)")
    if manifest["heldout"] != compute_heldout_pages(num_pages, shard_pages):
        raise WorkError("bad-manifest", "held-out pages do not follow the fixed rule")
    tokenizer = manifest["tokenizer"]
    if not isinstance(tokenizer, str) or not (tokenizer == "bytes" or len(tokenizer) == 64):
        raise WorkError("bad-manifest", "tokenizer must be a sha256 hex or 'bytes'")
    if not isinstance(manifest["source"], str) or len(manifest["source"]) > 256:
        raise WorkError("bad-manifest", "source must be a short string")
    return manifest


class ShardedPages:
    """The (num_pages, page_tokens) token array of a v2 dataset, its shards loaded and checked on first use."""

    def __init__(self, manifest: dict, folder: Path, fetch: Fetch | None = None):
        self.manifest, self.folder, self.fetch = manifest, Path(folder), fetch
        self.dtype = TOKEN_DTYPES[manifest["token_bytes"]]
        self.shape = (manifest["num_pages"], manifest["page_tokens"])
        self.loaded: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        page, columns = key if isinstance(key, tuple) else (key, slice(None))
        if not isinstance(page, (int, np.integer)) or not 0 <= page < self.shape[0]:
            raise IndexError(f"page {page} out of range")
        shard_pages = self.manifest["shard_pages"]
        return self.get_shard(int(page) // shard_pages)[int(page) % shard_pages, columns]

    def get_shard(self, index: int) -> np.ndarray:
        if index not in self.loaded:
            self.loaded[index] = self.read_shard(index)
        return self.loaded[index]

    def read_shard(self, index: int) -> np.ndarray:
        """A shard's pages from disk, else from `fetch` (then kept on disk), after its hash is checked."""
        digest = self.manifest["shards"][index]
        pages = len(compute_shard_page_range(index, self.manifest["shard_pages"], self.shape[0]))
        size = pages * self.shape[1] * self.dtype.itemsize
        path = self.folder / SHARDS_DIR / digest
        if path.is_file() and path.stat().st_size == size:
            data = path.read_bytes()
        elif self.fetch is not None:
            data = self.fetch(bytes.fromhex(digest))
        else:
            raise WorkError("missing-shard", f"shard {index} ({digest}) is not in {path.parent} and no peer to ask")
        check_shard(data, digest, size)
        if not path.is_file():
            save_shard(self.folder, data)
        return np.frombuffer(data, dtype=self.dtype).reshape(pages, self.shape[1])

    def load_all(self) -> ShardedPages:
        for index in range(len(self.manifest["shards"])):
            self.get_shard(index)
        return self


def check_shard(data: bytes, digest_hex: str, size: int) -> None:
    """Refuse a shard whose bytes are not the ones the manifest names."""
    if len(data) != size or compute_sha256(data).hex() != digest_hex:
        raise WorkError("bad-shard-hash", f"shard {digest_hex[:16]}… does not match the manifest (size or sha256)")


def save_shard(folder: Path, data: bytes) -> str:
    """Write a shard as shards/<sha256 hex> (atomically); returns the hex."""
    digest = compute_sha256(data).hex()
    directory = Path(folder) / SHARDS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{digest}.{os.getpid()}.tmp"  # several processes may save the same shard
    tmp.write_bytes(data)
    tmp.replace(directory / digest)
    return digest
