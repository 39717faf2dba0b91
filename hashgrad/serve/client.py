"""A signing client for miners' inference APIs (what validators and gateways use), and the
conversion of an answer into a `verify.Claim`.

Each request is signed with the caller's hotkey for the miner's hotkey (auth.py); streamed
answers are reassembled into the shape of a non-streamed one. Timings are measured here (time to
the first token and to the end) because the validator's score uses them. Everything a miner sends
back is untrusted: `parse_claim` checks shapes and that the text is the decoding of the token ids.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import aiohttp

from hashgrad.chain.encoding import parse_hex
from hashgrad.chain.keys import SigningKey
from hashgrad.errors import ProtocolError
from hashgrad.safejson import parse_json
from hashgrad.serve.auth import NO_TARGET, sign_request
from hashgrad.serve.codec import BYTE_CODEC, ServeCodec
from hashgrad.serve.engine import SamplingParams
from hashgrad.serve.verify import Claim

MAX_RESPONSE_BYTES = 4 << 20
MAX_STREAM_LINES = 1 << 16
REPLY_MAX_DEPTH = 16  # a chat completion with top log-probabilities nests 9 deep; much deeper is not one
COMPLETIONS_PATH = "/v1/completions"


@dataclass(frozen=True)
class Exchange:
    """One request to a miner and what came back (response None and error set on failure)."""

    url: str
    body: dict
    response: dict | None
    error: str | None
    first_token_s: float
    total_s: float


class MinerClient:
    """Async client; one aiohttp session shared across miners."""

    def __init__(
        self, session: aiohttp.ClientSession, signer: SigningKey | None = None, timeout: float = 30.0, clock=time.time
    ):
        self.session = session
        self.signer = signer
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.clock = clock

    def sign(self, method: str, path: str, body: bytes, target: bytes | None) -> dict[str, str]:
        if self.signer is None:
            return {}
        return sign_request(self.signer, method, path, body, int(self.clock()), target or NO_TARGET)

    async def get_models(self, url: str) -> dict:
        async with self.session.get(url.rstrip("/") + "/v1/models", timeout=self.timeout) as response:
            if response.status != 200:
                raise ProtocolError("bad-response", f"/v1/models answered HTTP {response.status}")
            return parse_reply_json(await read_capped_body(response.content))

    async def complete(self, url: str, body: dict, target: bytes | None = None) -> Exchange:
        """POST /v1/completions (streamed or not, as body says), timed; errors become Exchange.error."""
        data = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **self.sign("POST", COMPLETIONS_PATH, data, target)}
        start = time.perf_counter()
        first = None
        try:
            async with self.session.post(
                url.rstrip("/") + COMPLETIONS_PATH, data=data, headers=headers, timeout=self.timeout
            ) as response:
                if response.status != 200:
                    return Exchange(url, body, None, await read_error(response), 0.0, time.perf_counter() - start)
                if body.get("stream"):

                    def on_first() -> None:
                        nonlocal first
                        first = time.perf_counter() - start if first is None else first

                    result = merge_stream(await read_capped_lines(response.content, on_first))
                else:
                    result = parse_reply_json(await read_capped_body(response.content))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return Exchange(url, body, None, f"unreachable: {type(exc).__name__}", 0.0, time.perf_counter() - start)
        except ProtocolError as exc:
            return Exchange(url, body, None, f"bad-response: {exc.detail}", 0.0, time.perf_counter() - start)
        total = time.perf_counter() - start
        return Exchange(url, body, result, None, total if first is None else first, total)


async def read_error(response: aiohttp.ClientResponse) -> str:
    try:
        payload = parse_json(await response.content.read(65536), ProtocolError, "bad-response", 65536, 8)
        return f"http-{response.status}: {str(payload['error']['code'])[:64]}"
    except (ProtocolError, KeyError, TypeError, IndexError):
        return f"http-{response.status}"


def merge_stream(lines: list[bytes]) -> dict:
    """A streamed completion (server-sent event lines) reassembled as one response dict.

    Every chunk is untrusted: any shape other than the one we send raises ProtocolError bad-response."""
    chunks = []
    for line in lines:
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            break
        chunks.append(parse_reply_json(payload))
    if not chunks or not all(isinstance(c, dict) for c in chunks):
        raise ProtocolError("bad-response", "no chunks in the stream")
    head = chunks[0]
    text, token_ids, token_logprobs, finish, usage = [], [], [], None, None
    for chunk in chunks:
        for key in ("system_fingerprint", "seed", "id"):
            if chunk.get(key) != head.get(key):
                raise ProtocolError("bad-response", f"{key} changed within the stream")
        usage = chunk.get("usage") or usage
        for choice in get_list(chunk, "choices"):
            if not isinstance(choice, dict):
                raise ProtocolError("bad-response", "a choice is not an object")
            piece = choice.get("text") or ""
            if not isinstance(piece, str):
                raise ProtocolError("bad-response", "choice text is not a string")
            text.append(piece)
            token_ids += get_list(choice, "token_ids")
            logprobs = choice.get("logprobs")
            if isinstance(logprobs, dict):
                token_logprobs += get_list(logprobs, "token_logprobs")
            finish = choice.get("finish_reason") or finish
    logprobs = {"token_logprobs": token_logprobs} if token_logprobs else None
    return {
        "id": head.get("id"),
        "object": "text_completion",
        "model": head.get("model"),
        "system_fingerprint": head.get("system_fingerprint"),
        "seed": head.get("seed"),
        "choices": [
            {"index": 0, "text": "".join(text), "token_ids": token_ids, "logprobs": logprobs, "finish_reason": finish}
        ],
        "usage": usage,
    }


def get_list(obj: dict, key: str) -> list:
    """obj[key] when it is a list, [] when absent or null; ProtocolError for any other type."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError("bad-response", f"{key} is not a list")
    return value


def parse_reply_json(data: bytes) -> object:
    """A miner's JSON (a body or one stream event): capped, depth-limited, ProtocolError on anything else."""
    return parse_json(data, ProtocolError, "bad-response", MAX_RESPONSE_BYTES, REPLY_MAX_DEPTH)


async def read_capped_body(content: aiohttp.StreamReader, cap: int = MAX_RESPONSE_BYTES) -> bytes:
    raw = await content.read(cap + 1)
    if len(raw) > cap:
        raise ProtocolError("bad-response", "response too large")
    return raw


async def read_capped_lines(
    content: aiohttp.StreamReader, on_first, cap: int = MAX_RESPONSE_BYTES, max_lines: int = MAX_STREAM_LINES
) -> list[bytes]:
    """A stream's lines, refusing one that sends more than `cap` bytes or `max_lines` lines in all."""
    lines, total = [], 0
    while True:
        try:
            line = await content.readline()
        except ValueError:  # aiohttp: a single line beyond its buffer limit
            raise ProtocolError("bad-response", "stream line too long") from None
        if not line:
            return lines
        on_first()
        total += len(line)
        lines.append(line)
        if total > cap or len(lines) > max_lines:
            raise ProtocolError("bad-response", "stream too large")


def parse_claim(
    prompt: tuple[int, ...], max_tokens: int, params: SamplingParams, response: dict, codec: ServeCodec = BYTE_CODEC
) -> Claim:
    """The claim a completion response makes, checked for shape (ProtocolError bad-response)."""
    try:
        choices = response["choices"]
        if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
            raise ValueError("expected exactly one choice")
        choice = choices[0]
        tokens = choice["token_ids"]
        if (
            not isinstance(tokens, list)
            or len(tokens) > 1 << 16
            or not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < codec.vocab_size for t in tokens)
        ):
            raise ValueError("token_ids must be a list of the model's token ids")
        if choice.get("text") != codec.decode(tokens):
            raise ValueError("text is not the decoding of token_ids")
        fingerprint = parse_hex(
            response["system_fingerprint"],
            "system_fingerprint",
            max_size=64,
            reason="bad-response",
            error=ProtocolError,
        )
        seed = response.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError("seed must be an integer")
        logprobs = parse_logprobs(choice.get("logprobs"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError("bad-response", str(exc)) from None
    return Claim(
        tuple(prompt), tuple(tokens), logprobs, params, max_tokens, str(choice.get("finish_reason")), fingerprint, seed
    )


def parse_logprobs(logprobs) -> tuple[float, ...] | None:
    if logprobs is None:
        return None
    values = logprobs["token_logprobs"]
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        raise ValueError("token_logprobs must be finite numbers")
    return tuple(float(v) for v in values)
