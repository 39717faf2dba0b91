"""The OpenAI-compatible wire format of a miner's API: request parsing and response building (pure).

Supported: `POST /v1/completions` (prompt as a string or a list of byte token ids) and
`POST /v1/chat/completions` (messages rendered by a fixed plain-text template), each with
`max_tokens`, `temperature` (default 1.0, as OpenAI's; 0 = greedy), `top_p`, `top_k` (an
extension, as vLLM's), `seed`, `stream`, and log-probabilities (`logprobs: N` for completions,
`logprobs: true` + `top_logprobs: N` for chat). Responses carry `system_fingerprint` = the
checkpoint hash, `seed` = the seed used (the server draws one when sampling without a seed), and
the exact completion bytes as `token_ids` in each choice (vLLM's extension), because text decoded
with errors="replace" cannot be turned back into bytes.

Anything this server cannot honour exactly (n > 1, echo, stop sequences, penalties, logit bias)
is refused with `unsupported-parameter` rather than silently ignored: a verifier must be able to
recompute every answer. All errors are ProtocolError with a reason code the server maps to HTTP.

Text goes through the served model's codec (serve/codec.py): bytes by default, or the checkpoint's
tokenizer, whose chat template then renders the messages; the request carries the codec it was
parsed with, so the response shows tokens the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hashgrad.errors import ProtocolError, WorkError
from hashgrad.serve.codec import BYTE_CODEC, ServeCodec
from hashgrad.serve.engine import MAX_SEED, SamplingParams, TokenOut, check_request

KIND_COMPLETION = "completion"
KIND_CHAT = "chat"
DEFAULT_MAX_TOKENS = 16
MAX_TOP_LOGPROBS = 5
# parameters we accept only at the value that changes nothing
NEUTRAL = {
    "n": (1, None),
    "best_of": (1, None),
    "echo": (False, None),
    "suffix": (None, ""),
    "stop": (None, [], ""),
    "presence_penalty": (0, 0.0, None),
    "frequency_penalty": (0, 0.0, None),
    "logit_bias": (None, {}),
}


@dataclass(frozen=True)
class CompletionRequest:
    kind: str
    model: str
    prompt: tuple[int, ...]
    max_tokens: int
    params: SamplingParams
    stream: bool
    top_logprobs: int | None  # None: no log-probabilities; N: the chosen token's and the N most likely
    include_usage: bool = False
    codec: ServeCodec = BYTE_CODEC


def parse_request(
    body: object,
    kind: str,
    context: int,
    max_tokens_cap: int,
    max_prompt_tokens: int,
    fresh_seed: int,
    codec: ServeCodec = BYTE_CODEC,
) -> CompletionRequest:
    """Validate a decoded JSON body. `fresh_seed` is used when sampling without a seed."""
    if not isinstance(body, dict):
        raise ProtocolError("bad-request", "the body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model or len(model) > 256:
        raise ProtocolError("bad-request", "model must be a non-empty string")
    check_neutral(body)
    prompt = (
        parse_prompt(body.get("prompt"), codec)
        if kind == KIND_COMPLETION
        else parse_messages(body.get("messages"), codec)
    )
    if len(prompt) > max_prompt_tokens:
        raise ProtocolError("prompt-too-long", f"{len(prompt)} tokens > limit {max_prompt_tokens}")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    max_tokens = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    if not is_int(max_tokens) or max_tokens < 1:
        raise ProtocolError("bad-max-tokens", "max_tokens must be a positive integer")
    if max_tokens > max_tokens_cap:
        raise ProtocolError("max-tokens-too-large", f"max_tokens {max_tokens} > limit {max_tokens_cap}")
    params = parse_sampling(body, fresh_seed)
    try:
        check_request(prompt, max_tokens, context, codec.vocab_size)
    except WorkError as exc:
        raise ProtocolError(exc.reason, exc.detail) from None
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ProtocolError("bad-request", "stream must be a boolean")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ProtocolError("bad-request", "stream_options must be an object")
    return CompletionRequest(
        kind,
        model,
        prompt,
        max_tokens,
        params,
        stream,
        parse_logprobs(body, kind),
        bool(options.get("include_usage", False)),
        codec,
    )


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_neutral(body: dict) -> None:
    for name, allowed in NEUTRAL.items():
        if name in body and body[name] not in allowed:
            raise ProtocolError("unsupported-parameter", f"{name}={body[name]!r} is not supported")


def parse_prompt(prompt, codec: ServeCodec = BYTE_CODEC) -> tuple[int, ...]:
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, str):
        return codec.encode(prompt)
    if isinstance(prompt, list) and all(is_int(t) and 0 <= t < codec.vocab_size for t in prompt):
        return tuple(prompt)
    raise ProtocolError("bad-prompt", "prompt must be a string or a list of token ids")


def parse_messages(messages, codec: ServeCodec = BYTE_CODEC) -> tuple[int, ...]:
    """Chat messages → prompt tokens: the tokenizer's chat template, else "role: content\\n" per
    message, then "assistant: "."""
    if not isinstance(messages, list) or not messages or len(messages) > 256:
        raise ProtocolError("bad-messages", "messages must be a non-empty list")
    normalized = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant", "developer"):
            raise ProtocolError("bad-messages", "each message needs a role of system, user, assistant or developer")
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(
                part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
            )
        if not isinstance(content, str):
            raise ProtocolError("bad-messages", "message content must be text")
        normalized.append({"role": message["role"], "content": content})
    return codec.encode(codec.render_chat(normalized))


def parse_number(body: dict, name: str, default: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ProtocolError(f"bad-{name.replace('_', '-')}", f"{name} must be a number")
    return float(value)


def parse_sampling(body: dict, fresh_seed: int) -> SamplingParams:
    top_k = body.get("top_k")
    top_k = 0 if top_k in (None, -1) else top_k
    seed = body.get("seed")
    if seed is not None and (not is_int(seed) or not 0 <= seed <= MAX_SEED):
        raise ProtocolError("bad-seed", f"seed must be an integer in [0, {MAX_SEED}]")
    params = SamplingParams(
        parse_number(body, "temperature", 1.0),
        top_k,
        parse_number(body, "top_p", 1.0),
        fresh_seed if seed is None else seed,
    )
    try:
        return params.check()
    except WorkError as exc:
        raise ProtocolError(exc.reason, exc.detail) from None


def parse_logprobs(body: dict, kind: str) -> int | None:
    value = body.get("logprobs")
    if kind == KIND_CHAT:
        if value in (None, False):
            return None
        if value is not True:
            raise ProtocolError("bad-logprobs", "logprobs must be a boolean")
        value = body.get("top_logprobs") or 0
    if value is None:
        return None
    if not is_int(value) or not 0 <= value <= MAX_TOP_LOGPROBS:
        raise ProtocolError("bad-logprobs", f"logprobs must be an integer in [0, {MAX_TOP_LOGPROBS}]")
    return value


# ----------------------------------------------------------------------------- responses
def compute_token_string(token: int, codec: ServeCodec = BYTE_CODEC) -> str:
    """How one token is shown in log-probability listings (bytes: tiktoken's style for non-ASCII)."""
    return codec.token_string(token)


def compute_text_pieces(tokens, codec: ServeCodec = BYTE_CODEC) -> list[str]:
    """The text each token adds when the tokens are decoded incrementally (errors="replace")."""
    return codec.compute_pieces(tokens)


def build_completion_logprobs(
    outs: list[TokenOut], pieces: list[str], start_offset: int, top: bool, codec: ServeCodec = BYTE_CODEC
) -> dict:
    offsets, offset = [], start_offset
    for piece in pieces:
        offsets.append(offset)
        offset += len(piece)
    top_logprobs = [{compute_token_string(t, codec): lp for t, lp in o.top} for o in outs] if top else None
    return {
        "tokens": [compute_token_string(o.token, codec) for o in outs],
        "token_logprobs": [o.logprob for o in outs],
        "top_logprobs": top_logprobs,
        "text_offset": offsets,
    }


def build_chat_logprobs(outs: list[TokenOut], codec: ServeCodec = BYTE_CODEC) -> dict:
    return {
        "content": [
            {
                "token": compute_token_string(o.token, codec),
                "logprob": o.logprob,
                "bytes": codec.token_bytes(o.token),
                "top_logprobs": [
                    {"token": compute_token_string(t, codec), "logprob": lp, "bytes": codec.token_bytes(t)}
                    for t, lp in o.top
                ],
            }
            for o in outs
        ]
    }


@dataclass(frozen=True)
class ResponseMeta:
    response_id: str
    created: int
    model_id: str
    fingerprint: str  # checkpoint hash, hex


def build_usage(request: CompletionRequest, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": len(request.prompt),
        "completion_tokens": completion_tokens,
        "total_tokens": len(request.prompt) + completion_tokens,
    }


def build_choice(
    request: CompletionRequest,
    outs: list[TokenOut],
    pieces: list[str],
    text_offset: int,
    finish_reason: str | None,
    delta: bool,
) -> dict:
    text = "".join(pieces)
    choice: dict = {"index": 0, "finish_reason": finish_reason, "token_ids": [o.token for o in outs]}
    wants = request.top_logprobs is not None
    if request.kind == KIND_COMPLETION:
        choice["text"] = text
        choice["logprobs"] = (
            build_completion_logprobs(outs, pieces, text_offset, request.top_logprobs > 0, request.codec)
            if wants
            else None
        )
    else:
        choice["delta" if delta else "message"] = {"role": "assistant", "content": text}
        choice["logprobs"] = build_chat_logprobs(outs, request.codec) if wants else None
    return choice


def build_response(request: CompletionRequest, meta: ResponseMeta, outs: list[TokenOut]) -> dict:
    """The whole (non-streamed) response."""
    choice = build_choice(
        request, outs, compute_text_pieces([o.token for o in outs], request.codec), 0, "length", delta=False
    )
    obj = "text_completion" if request.kind == KIND_COMPLETION else "chat.completion"
    return {
        "id": meta.response_id,
        "object": obj,
        "created": meta.created,
        "model": meta.model_id,
        "system_fingerprint": meta.fingerprint,
        "seed": request.params.seed,
        "choices": [choice],
        "usage": build_usage(request, len(outs)),
    }


def build_chunk(
    request: CompletionRequest,
    meta: ResponseMeta,
    outs: list[TokenOut],
    pieces: list[str],
    text_offset: int,
    finish_reason: str | None,
    usage: dict | None = None,
) -> dict:
    """One server-sent event of a streamed response (no choices when it only carries usage)."""
    obj = "text_completion" if request.kind == KIND_COMPLETION else "chat.completion.chunk"
    choices = (
        [build_choice(request, outs, pieces, text_offset, finish_reason, delta=True)] if outs or finish_reason else []
    )
    chunk = {
        "id": meta.response_id,
        "object": obj,
        "created": meta.created,
        "model": meta.model_id,
        "system_fingerprint": meta.fingerprint,
        "seed": request.params.seed,
        "choices": choices,
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def build_error(reason: str, message: str) -> dict:
    """OpenAI's error body; `code` carries our reason code."""
    kind = "invalid_request_error" if reason not in ("rate-limited", "server-busy") else "rate_limit_error"
    return {
        "error": {"message": f"{reason}: {message}" if message else reason, "type": kind, "param": None, "code": reason}
    }


def build_models(model_id: str, fingerprint: str, context: int, hotkey: str | None) -> dict:
    return {
        "object": "list",
        "data": [
            {
                "id": model_id,
                "object": "model",
                "created": 0,
                "owned_by": "hashgrad",
                "checkpoint": fingerprint,
                "context_length": context,
                "hotkey": hotkey,
            }
        ],
    }


def compute_model_id(fingerprint: bytes) -> str:
    return f"hashgrad-{fingerprint.hex()[:16]}"
