"""Training data: fixed-size byte pages, the dataset manifest that names them, and who trains on what.

A dataset is a folder of text files cut into pages of `page_tokens` bytes (byte-level vocabulary:
one byte, one token). The manifest lists the sha256 of every page and a fixed set of held-out
pages; the manifest hash identifies the dataset in the job definition, so every participant
trains and scores on the same bytes. The default corpus is the Python standard library's own
`.py` sources on this machine (real text, no download).

A page is read as `windows_per_page` non-overlapping windows of block_size + 1 tokens (inputs
plus the shifted targets). Page assignment and batch order are pure functions of the epoch seed
and the miner's hotkey, so anyone can recompute them (and a validator can replay them exactly).

A dataset made by a tokenizer (`hashgrad data prepare`, work/prepare.py) is the same pages stored
as content-addressed token shards under a v2 manifest (work/shards.py); `load_dataset` reads both.
"""

from __future__ import annotations

import json
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hashgrad.errors import WorkError
from hashgrad.work.hashing import check_bytes32, compute_sample, compute_seed, compute_sha256
from hashgrad.work.model import compute_header_json
from hashgrad.work.shards import Fetch, ShardedPages, check_sharded_manifest, is_sharded_manifest

DATASET_FORMAT = "hashgrad-dataset-v1"
MAX_DATASET_BYTES = 2 * 1024**3
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_FILE_BYTES = 16 * 1024 * 1024
PAGES_FILE = "pages.bin"


@dataclass(frozen=True)
class Dataset:
    """A manifest (plain JSON-able dict) and the page bytes it names, as a (pages, page_tokens) array."""

    manifest: dict
    pages: np.ndarray | ShardedPages  # (num_pages, page_tokens) tokens: uint8 bytes (v1), shards (v2)

    @property
    def page_tokens(self) -> int:
        return self.manifest["page_tokens"]

    @property
    def heldout_pages(self) -> list[int]:
        return self.manifest["heldout"]

    @property
    def train_pages(self) -> list[int]:
        heldout = set(self.manifest["heldout"])
        return [i for i in range(self.manifest["num_pages"]) if i not in heldout]

    @property
    def manifest_hash(self) -> bytes:
        return compute_manifest_hash(self.manifest)


def get_stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def get_corpus_files(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Regular files under root with one of the suffixes (all if empty), sorted; no site-packages."""
    files = []
    for path in root.rglob("*"):
        relative = path.relative_to(root).parts
        if "site-packages" in relative or "__pycache__" in relative or not path.is_file() or path.is_symlink():
            continue
        if suffixes and path.suffix not in suffixes:
            continue
        files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def read_corpus(root: Path, suffixes: tuple[str, ...], max_bytes: int = MAX_DATASET_BYTES) -> bytes:
    """The corpus bytes: each text file (UTF-8, at most MAX_FILE_BYTES) followed by a newline."""
    if not root.is_dir():
        raise WorkError("bad-corpus", f"{root} is not a directory")
    parts, total = [], 0
    for path in get_corpus_files(root, suffixes):
        if path.stat().st_size > MAX_FILE_BYTES:
            continue
        data = path.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # not text
        total += len(data) + 1
        if total > max_bytes:
            raise WorkError("dataset-too-large", f"corpus exceeds {max_bytes} bytes")
        parts += [data, b"\n"]
    return b"".join(parts)


def compute_heldout(num_pages: int) -> list[int]:
    """A fixed, evenly spread 1/32 of the pages (at least 8), never assigned to miners."""
    count = min(num_pages // 2, max(8, num_pages // 32))
    stride = num_pages // count if count else 0
    return [k * stride + stride // 2 for k in range(count)]


def build_dataset(root: Path, page_tokens: int, suffixes: tuple[str, ...] = (".py",), source: str = "") -> Dataset:
    corpus = read_corpus(root, suffixes)
    num_pages = len(corpus) // page_tokens
    if num_pages < 16:
        raise WorkError("dataset-too-small", f"{len(corpus)} bytes make {num_pages} pages of {page_tokens}; need 16")
    pages = np.frombuffer(corpus[: num_pages * page_tokens], dtype=np.uint8).reshape(num_pages, page_tokens)
    manifest = {
        "format": DATASET_FORMAT,
        "source": source or root.name,
        "page_tokens": page_tokens,
        "num_pages": num_pages,
        "pages": [compute_sha256(page.tobytes()).hex() for page in pages],
        "heldout": compute_heldout(num_pages),
    }
    return Dataset(check_manifest(manifest), pages)


def build_stdlib_dataset(page_tokens: int) -> Dataset:
    return build_dataset(get_stdlib_dir(), page_tokens, (".py",), source="python-stdlib")


def compute_manifest_hash(manifest: dict) -> bytes:
    return compute_sha256(compute_header_json(manifest).encode())


def check_manifest(manifest: object) -> dict:
    """Raise WorkError unless the manifest is well formed; returns it."""
    fields = {"format", "source", "page_tokens", "num_pages", "pages", "heldout"}
    if not isinstance(manifest, dict) or set(manifest) != fields or manifest["format"] != DATASET_FORMAT:
        raise WorkError("bad-manifest", f"expected fields {sorted(fields)} and format {DATASET_FORMAT}")
    page_tokens, num_pages = manifest["page_tokens"], manifest["num_pages"]
    if not (isinstance(page_tokens, int) and isinstance(num_pages, int) and 0 < page_tokens and 16 <= num_pages):
        raise WorkError("bad-manifest", "page_tokens and num_pages must be positive integers (>= 16 pages)")
    if page_tokens * num_pages > MAX_DATASET_BYTES:
        raise WorkError("dataset-too-large", "pages exceed the dataset size limit")
    pages = manifest["pages"]
    if (
        not isinstance(pages, list)
        or len(pages) != num_pages
        or not all(isinstance(h, str) and len(h) == 64 for h in pages)
    ):
        raise WorkError("bad-manifest", "pages must list one sha256 hex per page")
    if manifest["heldout"] != compute_heldout(num_pages):
        raise WorkError("bad-manifest", "held-out pages do not follow the fixed rule")
    if not isinstance(manifest["source"], str) or len(manifest["source"]) > 256:
        raise WorkError("bad-manifest", "source must be a short string")
    return manifest


def save_dataset(dataset: Dataset, manifest_path: Path) -> Path:
    """Write the manifest (canonical JSON) and pages.bin beside it; returns the manifest path."""
    if not isinstance(dataset.pages, np.ndarray):  # a v2 dataset lives in its shards, written by prepare.py
        raise WorkError("sharded-dataset", "a sharded (v2) dataset has no pages.bin to save")
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    (manifest_path.parent / PAGES_FILE).write_bytes(dataset.pages.tobytes())
    manifest_path.write_text(compute_header_json(dataset.manifest) + "\n")
    return manifest_path


def load_dataset(manifest_path: Path, expected_hash: bytes | None = None, fetch: Fetch | None = None) -> Dataset:
    """Read a manifest and the pages.bin beside it, checking sizes and every page hash; a v2 manifest's
    shards are read (or fetched by hash with `fetch`) and checked when first used."""
    manifest_path = Path(manifest_path)
    if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
        raise WorkError("too-large", "manifest exceeds its size limit")
    try:
        raw = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WorkError("bad-manifest", f"not JSON: {exc}") from None
    if is_sharded_manifest(raw):
        manifest = check_sharded_manifest(raw)
        if expected_hash is not None and compute_manifest_hash(manifest) != expected_hash:
            raise WorkError("wrong-dataset", "manifest hash differs from the job's")
        return Dataset(manifest, ShardedPages(manifest, manifest_path.parent, fetch))
    manifest = check_manifest(raw)
    if expected_hash is not None and compute_manifest_hash(manifest) != expected_hash:
        raise WorkError("wrong-dataset", "manifest hash differs from the job's")
    pages_path = manifest_path.parent / PAGES_FILE
    size = manifest["num_pages"] * manifest["page_tokens"]
    if not pages_path.is_file() or pages_path.stat().st_size != size:
        raise WorkError("bad-pages", f"{pages_path} missing or not {size} bytes")
    pages = np.fromfile(pages_path, dtype=np.uint8).reshape(manifest["num_pages"], manifest["page_tokens"])
    for index, page in enumerate(pages):
        if compute_sha256(page.tobytes()).hex() != manifest["pages"][index]:
            raise WorkError("bad-page-hash", f"page {index} does not match the manifest")
    return Dataset(manifest, pages)


# ---- who trains on what ------------------------------------------------------------------------

WindowRef = tuple[int, int]  # (page index, window index within the page)


def compute_assigned_pages(seed: bytes, hotkey: bytes, n: int, train_pages: list[int]) -> list[int]:
    """The n training pages a hotkey works on this epoch: H(seed, hotkey) -> sample of train pages."""
    key = compute_seed(seed, "pages", check_bytes32(hotkey, "hotkey"))
    return sorted(train_pages[i] for i in compute_sample(key, len(train_pages), n))


def compute_window_refs(pages: list[int], windows_per_page: int) -> list[WindowRef]:
    return [(page, w) for page in pages for w in range(windows_per_page)]


def compute_batch_order(
    seed: bytes, hotkey: bytes, pages: list[int], windows_per_page: int, steps: int, batch_size: int
) -> list[list[WindowRef]]:
    """Windows for each inner step: seeded passes over all windows of the assigned pages."""
    refs = compute_window_refs(pages, windows_per_page)
    order: list[WindowRef] = []
    passes = 0
    while len(order) < steps * batch_size:
        key = compute_seed(seed, "batches", check_bytes32(hotkey, "hotkey"), passes)
        # a prefix of the pass's permutation: the same draws, without permuting what is not used
        order += [refs[i] for i in compute_sample(key, len(refs), min(len(refs), steps * batch_size - len(order)))]
        passes += 1
    return [order[s * batch_size : (s + 1) * batch_size] for s in range(steps)]


def compute_windows(dataset: Dataset, refs: list[WindowRef], window: int) -> torch.Tensor:
    """(len(refs), window) int64 token tensor."""
    rows = [dataset.pages[page, w * window : (w + 1) * window] for page, w in refs]
    return torch.from_numpy(np.stack(rows).astype(np.int64))


def compute_page_windows(dataset: Dataset, pages: list[int], window: int) -> torch.Tensor:
    per_page = dataset.page_tokens // window
    return compute_windows(dataset, compute_window_refs(pages, per_page), window)
