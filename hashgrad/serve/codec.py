"""Text in and out of a served model: its tokenizer, how tokens are shown, and the chat template.

A checkpoint without a tokenizer is byte-level (token = byte), exactly as the API always was:
text pieces come from an incremental UTF-8 decoder, a token is shown as its character or
`bytes:\\xNN`, and chat messages are rendered by the plain "role: content" template. A checkpoint
that carries a Hugging Face tokenizer encodes and decodes with it, shows a token as the tokenizer's
own string, and renders chat messages with the tokenizer's chat template (Jinja, run in jinja2's
immutable sandbox as transformers runs it) when it has one.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from hashgrad.errors import ProtocolError
from hashgrad.work.model import Checkpoint
from hashgrad.work.tokenizer import ByteCodec, HFCodec, get_codec

REPLACEMENT = "\ufffd"


def render_plain_chat(messages: list[dict]) -> str:
    """The template of byte-level models: "role: content\\n" per message, then "assistant: "."""
    return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "


def raise_template_error(message: str):
    raise TemplateError(message)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity
class ServeCodec:
    codec: ByteCodec | HFCodec
    chat_template: str | None = None
    special: dict = field(default_factory=dict)  # bos_token, eos_token... for the template

    @property
    def vocab_size(self) -> int:
        return self.codec.vocab_size

    @property
    def is_bytes(self) -> bool:
        return isinstance(self.codec, ByteCodec)

    def encode(self, text: str) -> tuple[int, ...]:
        return tuple(self.codec.encode(text))

    def decode(self, tokens) -> str:
        return self.codec.decode(tokens)

    def token_string(self, token: int) -> str:
        if self.is_bytes:
            return chr(token) if token < 0x80 else f"bytes:\\x{token:02x}"
        return self.codec.tokenizer.id_to_token(token) or ""

    def token_bytes(self, token: int) -> list[int]:
        return [token] if self.is_bytes else list(self.codec.decode([token]).encode("utf-8"))

    def render_chat(self, messages: list[dict]) -> str:
        """The prompt text for chat messages (each a dict with a role and a string content)."""
        if not self.chat_template:
            return render_plain_chat(messages)
        try:
            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            env.globals["raise_exception"] = raise_template_error
            return env.from_string(self.chat_template).render(
                messages=messages, add_generation_prompt=True, **self.special
            )
        except TemplateError as exc:
            raise ProtocolError("bad-messages", f"the chat template refused the messages: {exc}") from None

    def new_stream(self) -> TextStream:
        return TextStream(self)

    def compute_pieces(self, tokens) -> list[str]:
        """The text each token adds (the pieces concatenate to the decoded completion)."""
        stream = self.new_stream()
        tokens = list(tokens)
        return [stream.push(t, i == len(tokens) - 1) for i, t in enumerate(tokens)]


class TextStream:
    """Incremental decoding: a piece is held back while it ends inside a multi-byte character."""

    def __init__(self, codec: ServeCodec):
        self.codec = codec
        self.bytes_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace") if codec.is_bytes else None
        self.tokens: list[int] = []
        self.emitted = 0  # characters of the decoded text already handed out

    def push(self, token: int, final: bool = False) -> str:
        if self.bytes_decoder is not None:
            return self.bytes_decoder.decode(bytes([token]), final=final)
        self.tokens.append(token)
        text = self.codec.decode(self.tokens)
        if text.endswith(REPLACEMENT) and not final:
            return ""
        piece, self.emitted = text[self.emitted :], len(text)
        return piece


def build_serve_codec(checkpoint: Checkpoint) -> ServeCodec:
    config = checkpoint.tokenizer_config
    special = {k: config[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token") if k in config}
    special = {"bos_token": "", "eos_token": "", **special}
    return ServeCodec(get_codec(checkpoint.tokenizer), config.get("chat_template"), special)


BYTE_CODEC = ServeCodec(ByteCodec())
