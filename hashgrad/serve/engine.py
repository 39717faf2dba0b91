"""Generation from a checkpoint: greedy and seeded sampling that a verifier can reproduce exactly.

Tokens are bytes (vocabulary 256): text goes in as UTF-8 bytes and comes out decoded with
errors="replace"; the exact bytes travel as token ids beside the text.

The sampling rule is part of the protocol, so it is written out here once and used by both the
server and the verifier:

    z      = the model's logits at the last position, as float64
    greedy (temperature 0): the argmax of z (lowest id among exact ties)
    p      = softmax(z / temperature)                                   in float64
    order  = token ids by (-p, id); keep the first top_k (0 = all); then the shortest prefix
             of what is left whose mass reaches top_p (1.0 = all)
    kept   = those ids in increasing id order, q = p[kept] / sum, cdf = cumsum(q)
    u      = compute_draw(seed, position): 53 bits of a tagged hash of (seed, position)
    token  = kept[first i with u < cdf[i]]

The draw is a counter-based RNG (no torch or numpy global state), so the draw for position t is
known without generating positions < t; the CDF runs over increasing token ids, so a tiny
difference in recomputed logits moves the interval boundaries by a tiny amount instead of
reordering them. Each returned token also carries its raw log-probability (log_softmax(z), no
temperature, no filter), which the verifier compares with its own.

The reference generation loop runs the full forward pass over the sequence for every token (the
obvious definition); `generate_cached` is the fast path with a key/value cache and must give the
same tokens (tests/serve/test_engine.py checks it).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from hashgrad.chain.hashes import tagged_hash
from hashgrad.errors import WorkError
from hashgrad.serve.codec import build_serve_codec
from hashgrad.work.model import GPT, Checkpoint, checkpoint_hash

TAG_DRAW = "hashgrad/serve/draw"
MAX_SEED = 2**63 - 1
MAX_TOP_K = 1 << 20
MAX_TEMPERATURE = 100.0


@dataclass(frozen=True)
class SamplingParams:
    """How the next token is chosen. temperature 0 is greedy (top_k, top_p and seed then unused)."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0

    @property
    def is_greedy(self) -> bool:
        return self.temperature == 0.0

    def check(self) -> SamplingParams:
        """Raise WorkError unless every field is in range; returns self."""
        t, k, p, s = self.temperature, self.top_k, self.top_p, self.seed
        if not isinstance(t, float) or not math.isfinite(t) or not 0.0 <= t <= MAX_TEMPERATURE:
            raise WorkError("bad-temperature", f"temperature must be in [0, {MAX_TEMPERATURE}]")
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= MAX_TOP_K:
            raise WorkError("bad-top-k", "top_k must be an integer >= 0 (0 = no limit)")
        if not isinstance(p, float) or not 0.0 < p <= 1.0:
            raise WorkError("bad-top-p", "top_p must be in (0, 1]")
        if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s <= MAX_SEED:
            raise WorkError("bad-seed", f"seed must be an integer in [0, {MAX_SEED}]")
        return self


@dataclass(frozen=True)
class TokenOut:
    token: int
    logprob: float  # raw log-probability under the model (no temperature, no filter)
    top: tuple[tuple[int, float], ...] = ()  # the most likely tokens and their raw log-probabilities


@dataclass(frozen=True)
class Completion:
    prompt: tuple[int, ...]
    tokens: tuple[int, ...]
    logprobs: tuple[float, ...]
    finish_reason: str  # "length": max_tokens reached

    @property
    def text(self) -> str:
        return decode_text(self.tokens)


# ----------------------------------------------------------------------------- the sampling rule
def encode_text(text: str) -> tuple[int, ...]:
    return tuple(text.encode("utf-8"))


def decode_text(tokens) -> str:
    return bytes(tokens).decode("utf-8", errors="replace")


def compute_draw(seed: int, position: int) -> float:
    """The uniform draw in [0, 1) used at a sequence position: 53 bits of a tagged hash."""
    digest = tagged_hash(TAG_DRAW, struct.pack("<QI", seed, position))
    return (int.from_bytes(digest[:8], "little") >> 11) / float(1 << 53)


def compute_probs(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(z / temperature) in float64."""
    z = logits.astype(np.float64) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


def compute_logprobs(logits: np.ndarray) -> np.ndarray:
    """log_softmax(z) in float64 (the raw distribution, what responses report)."""
    z = logits.astype(np.float64)
    shifted = z - z.max()
    return shifted - math.log(np.exp(shifted).sum())


def compute_descending(probs: np.ndarray) -> np.ndarray:
    """Token ids by decreasing probability, lower id first among equals."""
    return np.lexsort((np.arange(probs.size), -probs))


def compute_cut(probs: np.ndarray, descending: np.ndarray, params: SamplingParams) -> int:
    """How many of the most probable tokens survive top_k and then top_p (at least one)."""
    n = probs.size if params.top_k == 0 else min(params.top_k, probs.size)
    if params.top_p < 1.0:
        cumulative = np.cumsum(probs[descending[:n]])
        n = min(n, int(np.searchsorted(cumulative, params.top_p, side="left")) + 1)
    return max(n, 1)


def compute_pick(probs: np.ndarray, kept: np.ndarray, u: float) -> int:
    """Inverse CDF over the kept ids in increasing id order."""
    kept = np.sort(kept)
    cdf = np.cumsum(probs[kept])
    index = int(np.searchsorted(cdf, u * cdf[-1], side="right"))
    return int(kept[min(index, kept.size - 1)])


def compute_token_out(logits: np.ndarray, params: SamplingParams, position: int, top_n: int) -> TokenOut:
    """The protocol's token at `position` with its raw log-probability (and the top_n alternatives)."""
    token = compute_next_token(logits, params, position)
    logprobs = compute_logprobs(logits)
    top = tuple((int(t), float(logprobs[t])) for t in compute_descending(logprobs)[:top_n]) if top_n else ()
    return TokenOut(token, float(logprobs[token]), top)


def compute_next_token(logits: np.ndarray, params: SamplingParams, position: int) -> int:
    """The token the protocol picks at `position` from the logits there."""
    if params.is_greedy:
        return int(np.argmax(logits))
    probs = compute_probs(logits, params.temperature)
    descending = compute_descending(probs)
    kept = descending[: compute_cut(probs, descending, params)]
    return compute_pick(probs, kept, compute_draw(params.seed, position))


# ----------------------------------------------------------------------------- the engine
def check_request(tokens: tuple[int, ...], max_tokens: int, context: int, vocab_size: int = 256) -> None:
    """Raise WorkError unless the prompt is non-empty tokens and prompt + completion fit the context."""
    if not tokens:
        raise WorkError("empty-prompt", "the prompt must hold at least one token")
    if any(not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < vocab_size for t in tokens):
        raise WorkError("bad-token", f"tokens are integers in [0, {vocab_size})")
    if len(tokens) >= context:
        raise WorkError("prompt-too-long", f"{len(tokens)} tokens; the context holds {context}")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise WorkError("bad-max-tokens", "max_tokens must be a positive integer")
    if len(tokens) + max_tokens > context:
        raise WorkError("context-overflow", f"{len(tokens)} + {max_tokens} tokens exceed the context of {context}")


class Engine:
    """A loaded checkpoint that generates completions and recomputes logits (call from one thread)."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        fingerprint: bytes | None = None,
        model: GPT | None = None,
        device: torch.device | str = "cpu",
    ):
        self.checkpoint = checkpoint
        self.config = checkpoint.config
        self.fingerprint = fingerprint if fingerprint is not None else checkpoint_hash(checkpoint.to_bytes())
        self.device = torch.device(device)  # cpu, cuda[:N] or mps (hashgrad.work.hardware.parse_device)
        self.model = (model if model is not None else checkpoint.build_model()).to(self.device).eval()
        self.codec = build_serve_codec(checkpoint)  # its tokenizer (bytes when it has none) and chat template

    @property
    def context(self) -> int:
        return self.config.block_size

    def compute_logits(self, tokens) -> np.ndarray:
        """Teacher-forced logits (len(tokens), vocab) in float64 from one forward pass."""
        with torch.no_grad():
            logits, _ = self.model(torch.tensor([list(tokens)], dtype=torch.long, device=self.device))
        return logits[0].double().cpu().numpy()

    def stream(
        self, prompt: tuple[int, ...], max_tokens: int, params: SamplingParams, top_n: int = 0
    ) -> Iterator[TokenOut]:
        """The reference loop: a full forward pass over the sequence for each new token."""
        check_request(prompt, max_tokens, self.context, self.config.vocab_size)
        sequence = list(prompt)
        for _ in range(max_tokens):
            out = compute_token_out(self.compute_logits(sequence)[-1], params, len(sequence), top_n)
            yield out
            sequence.append(out.token)

    def stream_cached(
        self, prompt: tuple[int, ...], max_tokens: int, params: SamplingParams, top_n: int = 0
    ) -> Iterator[TokenOut]:
        """The fast path: one pass over the prompt, then one position at a time with a key/value cache."""
        check_request(prompt, max_tokens, self.context, self.config.vocab_size)
        cache: list[tuple[torch.Tensor, torch.Tensor]] = []
        with torch.no_grad():
            logits = compute_cached_forward(self.model, list(prompt), 0, cache)
        position = len(prompt)
        for step in range(max_tokens):
            out = compute_token_out(logits[-1].double().cpu().numpy(), params, position, top_n)
            yield out
            if step + 1 < max_tokens:
                with torch.no_grad():
                    logits = compute_cached_forward(self.model, [out.token], position, cache)
            position += 1

    serve = stream_cached  # what a server runs

    def generate(
        self, prompt: tuple[int, ...], max_tokens: int, params: SamplingParams, cached: bool = True
    ) -> Completion:
        steps = (self.stream_cached if cached else self.stream)(prompt, max_tokens, params.check())
        outs = list(steps)
        return Completion(tuple(prompt), tuple(o.token for o in outs), tuple(o.logprob for o in outs), "length")


def compute_cached_forward(
    model: GPT, new_tokens: list[int], start: int, cache: list[tuple[torch.Tensor, torch.Tensor]]
) -> torch.Tensor:
    """Logits (len(new_tokens), vocab) for tokens at positions start.., extending `cache` in place.

    Mirrors model.GPT.forward block by block (same modules, same arithmetic order per position);
    only the keys and values of earlier positions are reused instead of recomputed. Other families
    bring their own cached forward (`forward_cached`, e.g. work/models/llama.py).
    """
    if hasattr(model, "forward_cached"):
        return model.forward_cached(new_tokens, start, cache)
    device = model.wte.weight.device
    idx = torch.tensor([new_tokens], dtype=torch.long, device=device)
    x = model.wte(idx) + model.wpe(torch.arange(start, start + len(new_tokens), device=device))
    for layer, block in enumerate(model.h):
        attn = block.attn
        h = block.ln_1(x)
        batch, length, width = h.shape
        q, k, v = attn.c_attn(h).split(width, dim=2)
        q, k, v = (t.view(batch, length, attn.n_head, width // attn.n_head).transpose(1, 2) for t in (q, k, v))
        if layer < len(cache):
            k = torch.cat([cache[layer][0], k], dim=2)
            v = torch.cat([cache[layer][1], v], dim=2)
            cache[layer] = (k, v)
        else:
            cache.append((k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        total = k.size(2)
        causal = torch.ones(length, total, dtype=torch.bool, device=device).tril(diagonal=total - length)
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(batch, length, width)
        x = x + attn.c_proj(y)
        x = x + block.mlp(block.ln_2(x))
    return (model.ln_f(x) @ model.wte.weight.t())[0]
