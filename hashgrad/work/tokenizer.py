"""Tokenizers: Hugging Face `tokenizers` files (tokenizer.json: byte-level BPE and whatever else such a
file holds), and the byte-level vocabulary (token = byte) that stays the default.

A job's tokenizer is the exact bytes of its tokenizer.json: the checkpoint carries them and their
sha256 (work/model.py), and a dataset manifest records the same hash, so miners, validators and
servers all cut text the same way. `train_tokenizer` makes a byte-level BPE from a dataset's texts
(`hashgrad data tokenizer train`); it is deterministic for the same texts and settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from hashgrad.errors import WorkError
from hashgrad.work.hashing import compute_sha256

BYTE_LEVEL = "bytes"  # the tokenizer id of the byte-level vocabulary (in manifests)
END_OF_TEXT = "<|endoftext|>"
MAX_TOKENIZER_BYTES = 32 * 1024 * 1024


class TextCodec(Protocol):
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, tokens: Iterable[int]) -> str: ...


class ByteCodec:
    """The byte-level vocabulary: UTF-8 bytes in, bytes decoded with errors="replace" out."""

    vocab_size = 256
    tokenizer_id = BYTE_LEVEL

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, tokens: Iterable[int]) -> str:
        return bytes(tokens).decode("utf-8", errors="replace")

    def token_to_id(self, token: str) -> int | None:
        return None


class HFCodec:
    """A Hugging Face tokenizer.json; special tokens are parsed in prompts and dropped from outputs."""

    def __init__(self, data: bytes):
        self.tokenizer = load_tokenizer(data)
        self.vocab_size = self.tokenizer.get_vocab_size()
        self.tokenizer_id = compute_sha256(data).hex()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, tokens: Iterable[int]) -> str:
        return self.tokenizer.decode(list(tokens), skip_special_tokens=True)

    def token_to_id(self, token: str) -> int | None:
        return self.tokenizer.token_to_id(token)


def load_tokenizer(data: bytes) -> Tokenizer:
    """Parse tokenizer.json bytes (size-limited; the format is JSON, nothing executable)."""
    if not 0 < len(data) <= MAX_TOKENIZER_BYTES:
        raise WorkError("bad-tokenizer", f"tokenizer.json must hold 1 to {MAX_TOKENIZER_BYTES} bytes")
    try:
        return Tokenizer.from_str(data.decode("utf-8"))
    except Exception as exc:  # the Rust side reports every parse fault as a plain Exception
        raise WorkError("bad-tokenizer", f"not a tokenizers file: {exc}") from None


def get_codec(tokenizer: bytes) -> ByteCodec | HFCodec:
    """The codec for a checkpoint's tokenizer bytes (empty: byte-level)."""
    return HFCodec(tokenizer) if tokenizer else ByteCodec()


def compute_tokenizer_id(tokenizer: bytes) -> str:
    """What a manifest records: the sha256 hex of tokenizer.json, or "bytes" for the byte-level vocabulary."""
    return compute_sha256(tokenizer).hex() if tokenizer else BYTE_LEVEL


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> bytes:
    """A byte-level BPE (GPT-2's scheme) trained on `texts`; returns the tokenizer.json bytes."""
    if not 256 + 1 < vocab_size <= 1 << 20:
        raise WorkError("bad-vocab-size", "vocab_size must exceed 257 (the bytes and <|endoftext|>)")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer.to_str().encode("utf-8")
