"""`hashgrad data prepare`: text files -> token shards and their manifest, streaming.

    folder (or file) of .txt, .jsonl (one JSON object a line, text in a named field), .parquet
      -> documents, in sorted path order, each followed by the separator token (<|endoftext|> or the
         tokenizer's eos; a newline byte for the byte-level vocabulary)
      -> tokens, cut into pages of page_tokens, shard_pages pages a shard (the tail that does not
         fill a page is dropped) -> shards/<sha256> + manifest.json (work/shards.py)

Memory stays bounded whatever the dataset's size: text is read a block (.txt), a line (.jsonl) or a
record batch (.parquet) at a time, tokenized in batches, and each shard is written as soon as it
is full. The result is a pure function of the files, the tokenizer and the sizes (same inputs, same
manifest hash). Records are validated: a .jsonl line that is not an object with a string in the
field is `bad-record` with its file and line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from hashgrad.errors import WorkError
from hashgrad.work.data import get_corpus_files
from hashgrad.work.model import compute_header_json
from hashgrad.work.shards import (
    SHARDED_FORMAT,
    TOKEN_DTYPES,
    check_sharded_manifest,
    compute_heldout_pages,
    compute_token_bytes,
    save_shard,
)
from hashgrad.work.tokenizer import END_OF_TEXT, ByteCodec, HFCodec

SUFFIXES = (".txt", ".jsonl", ".parquet")
TEXT_BLOCK_BYTES = 1 << 20  # .txt files are read this much at a time
MAX_LINE_BYTES = 16 * 1024 * 1024
BATCH_CHARS = 1 << 20  # texts tokenized together (the Rust tokenizer runs a batch in parallel)
PARQUET_BATCH_ROWS = 1024


@dataclass(frozen=True)
class Piece:
    """A piece of text, whether a document ends with it, and how many file bytes reading it consumed."""

    text: str
    ends_document: bool
    nbytes: int


def iter_txt(path: Path) -> Iterator[Piece]:
    """A text file in blocks cut after a newline (so no UTF-8 character is split); one document."""
    with path.open("rb") as handle:
        carry = b""
        while block := handle.read(TEXT_BLOCK_BYTES):
            block = carry + block
            cut = block.rfind(b"\n") + 1 or len(block)
            carry, block = block[cut:], block[:cut]
            yield Piece(block.decode("utf-8", errors="replace"), False, len(block))
        yield Piece(carry.decode("utf-8", errors="replace"), True, len(carry))


def iter_jsonl(path: Path, field: str) -> Iterator[Piece]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if len(line) > MAX_LINE_BYTES:
                raise WorkError("bad-record", f"{path.name}:{number}: line over {MAX_LINE_BYTES} bytes")
            if not line.strip():
                yield Piece("", False, len(line))
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise WorkError("bad-record", f"{path.name}:{number}: not JSON: {exc}") from None
            if not isinstance(record, dict) or not isinstance(record.get(field), str):
                raise WorkError("bad-record", f"{path.name}:{number}: no string field {field!r}")
            yield Piece(record[field], True, len(line))


def iter_parquet(path: Path, field: str) -> Iterator[Piece]:

    try:
        reader = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError...
        raise WorkError("bad-record", f"{path.name}: not a parquet file: {exc}") from None
    if field not in reader.schema_arrow.names:
        raise WorkError("bad-record", f"{path.name}: no column {field!r}")
    per_row = path.stat().st_size / max(1, reader.metadata.num_rows)
    for batch in reader.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[field]):
        for value in batch.column(0).to_pylist():
            if not isinstance(value, str):
                raise WorkError("bad-record", f"{path.name}: column {field!r} holds a non-string")
            yield Piece(value, True, int(per_row))


def get_source_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise WorkError("bad-corpus", f"{source} is neither a file nor a directory")
    files = get_corpus_files(source, SUFFIXES)
    if not files:
        raise WorkError("bad-corpus", f"{source} holds no {', '.join(SUFFIXES)} files")
    return files


def iter_pieces(files: list[Path], field: str) -> Iterator[Piece]:
    for path in files:
        if path.suffix == ".jsonl":
            yield from iter_jsonl(path, field)
        elif path.suffix == ".parquet":
            yield from iter_parquet(path, field)
        else:
            yield from iter_txt(path)


def iter_documents(source: Path, field: str = "text") -> Iterator[str]:
    """Whole documents' texts (what a tokenizer is trained on); a .txt file's blocks count as documents."""
    for piece in iter_pieces(get_source_files(Path(source)), field):
        if piece.text:
            yield piece.text


def get_separator(codec) -> list[int]:
    """The token put after each document."""
    if isinstance(codec, ByteCodec):
        return [ord("\n")]
    for token in (END_OF_TEXT, "</s>", "<eos>"):
        if (token_id := codec.token_to_id(token)) is not None:
            return [token_id]
    return []


class ShardWriter:
    """Collects tokens, writes each full shard to out/shards/<sha256>, remembers the hashes."""

    def __init__(self, out: Path, page_tokens: int, shard_pages: int, dtype: np.dtype):
        self.out, self.page_tokens, self.shard_pages, self.dtype = out, page_tokens, shard_pages, dtype
        self.buffer: list[np.ndarray] = []
        self.buffered = 0
        self.shards: list[str] = []
        self.pages = 0

    def add(self, tokens: list[int]) -> None:
        self.buffer.append(np.asarray(tokens, dtype=self.dtype))
        self.buffered += len(tokens)
        shard_tokens = self.page_tokens * self.shard_pages
        if self.buffered >= shard_tokens:
            tokens_all = np.concatenate(self.buffer)
            full = len(tokens_all) // shard_tokens * shard_tokens
            for start in range(0, full, shard_tokens):
                self.write(tokens_all[start : start + shard_tokens])
            self.buffer, self.buffered = [tokens_all[full:]], len(tokens_all) - full

    def write(self, tokens: np.ndarray) -> None:
        self.shards.append(save_shard(self.out, tokens.astype(self.dtype).tobytes()))
        self.pages += len(tokens) // self.page_tokens

    def finish(self) -> None:
        rest = np.concatenate(self.buffer) if self.buffer else np.zeros(0, self.dtype)
        whole = len(rest) // self.page_tokens * self.page_tokens
        if whole:
            self.write(rest[:whole])
        self.buffer, self.buffered = [], 0


def prepare_dataset(
    source: Path,
    out: Path,
    tokenizer: bytes,
    page_tokens: int,
    shard_pages: int,
    field: str = "text",
    name: str = "",
    on_progress: Callable[[int], None] | None = None,
) -> dict:
    """Tokenize `source` into out/shards and write out/manifest.json; returns the manifest."""
    codec = HFCodec(tokenizer) if tokenizer else ByteCodec()
    vocab = max(codec.vocab_size, 256) if tokenizer else 256
    dtype = TOKEN_DTYPES[compute_token_bytes(vocab)]
    files = get_source_files(Path(source))
    writer = ShardWriter(Path(out), page_tokens, shard_pages, dtype)
    separator = get_separator(codec)
    batch: list[Piece] = []
    chars = 0

    def flush():
        texts = [p.text for p in batch]
        # encode_batch_fast skips the character offsets we do not use (1.6x faster than encode_batch)
        encoded = (
            codec.tokenizer.encode_batch_fast(texts, add_special_tokens=False) if isinstance(codec, HFCodec) else None
        )
        for i, piece in enumerate(batch):
            writer.add(
                (encoded[i].ids if encoded else codec.encode(piece.text)) + (separator if piece.ends_document else [])
            )
        if on_progress:
            on_progress(sum(p.nbytes for p in batch))
        batch.clear()

    for piece in iter_pieces(files, field):
        batch.append(piece)
        chars += len(piece.text)
        if chars >= BATCH_CHARS:
            flush()
            chars = 0
    flush()
    writer.finish()
    manifest = {
        "format": SHARDED_FORMAT,
        "source": (name or Path(source).name)[:256],
        "tokenizer": codec.tokenizer_id,
        "vocab_size": vocab,
        "token_bytes": dtype.itemsize,
        "page_tokens": page_tokens,
        "shard_pages": shard_pages,
        "num_pages": writer.pages,
        "shards": writer.shards,
        "heldout": compute_heldout_pages(writer.pages, shard_pages),
    }
    if len(writer.shards) < 2:
        raise WorkError(
            "dataset-too-small",
            f"{writer.pages} pages make {len(writer.shards)} shard(s); need 2 "
            "(use a smaller --shard-pages or --page-tokens)",
        )
    check_sharded_manifest(manifest)
    (Path(out) / "manifest.json").write_text(compute_header_json(manifest) + "\n")
    return manifest


def get_total_bytes(source: Path) -> int:
    return sum(path.stat().st_size for path in get_source_files(Path(source)))
