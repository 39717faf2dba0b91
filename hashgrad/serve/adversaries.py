"""Cheating inference servers as first-class options, for tests, the benchmark and the devnet.

    honest       the real checkpoint (engine.Engine)
    stale        an older checkpoint, presented as the current one
    other-model  different weights of the same shape, presented as the current checkpoint
    random       random tokens with made-up log-probabilities
    truncated    the current checkpoint without its last transformer layer (cheaper to run)
    quantized    the current checkpoint with every weight matrix rounded to int8 (per column)
    replay       answers a new prompt with a completion it produced earlier for another prompt

Every kind answers in the same format as an honest server and claims the current checkpoint's
hash as its fingerprint, so only recomputation can tell them apart.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import torch

from hashgrad.errors import WorkError
from hashgrad.serve.engine import Engine, SamplingParams, TokenOut
from hashgrad.work.model import GPT, Checkpoint, GPTConfig, checkpoint_hash, compute_initial_state

SERVER_KINDS = ("honest", "stale", "other-model", "random", "truncated", "quantized", "replay")
ADVERSARY_KINDS = SERVER_KINDS[1:]
OTHER_MODEL_SEED = 0x5EED


def build_backend(kind: str, checkpoint: Checkpoint, older: Checkpoint | None = None, device="cpu") -> Engine:
    """A server backend of the given kind for `checkpoint` (stale needs the `older` checkpoint);
    an honest or stale engine runs on `device`."""
    fingerprint = checkpoint_hash(checkpoint.to_bytes())
    if kind == "honest":
        return Engine(checkpoint, fingerprint, device=device)
    if kind == "stale":
        if older is None:
            raise WorkError("missing-older-checkpoint", "the stale adversary serves an older checkpoint: give one")
        return Engine(older, fingerprint, device=device)
    if kind == "other-model":
        return Engine(
            Checkpoint(checkpoint.config, compute_initial_state(checkpoint.config, OTHER_MODEL_SEED)), fingerprint
        )
    if kind == "random":
        return RandomBackend(checkpoint, fingerprint)
    if kind == "truncated":
        return Engine(checkpoint, fingerprint, build_truncated_model(checkpoint))
    if kind == "quantized":
        return Engine(Checkpoint(checkpoint.config, compute_quantized_state(checkpoint.state)), fingerprint)
    if kind == "replay":
        return ReplayBackend(checkpoint, fingerprint)
    raise WorkError("unknown-server-kind", f"{kind}; known: {', '.join(SERVER_KINDS)}")


def build_truncated_model(checkpoint: Checkpoint) -> GPT:
    """The checkpoint's model minus its last block (fewer layers: cheaper, and wrong)."""
    config = checkpoint.config
    if config.n_layer < 2:
        raise WorkError("bad-model-config", "truncation needs at least two layers")
    last = f"h.{config.n_layer - 1}."
    smaller = GPTConfig(**{**config.__dict__, "n_layer": config.n_layer - 1})
    model = GPT(smaller)
    model.load_state_dict({k: v for k, v in checkpoint.state.items() if not k.startswith(last)}, strict=True)
    return model


def compute_quantized_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Symmetric int8 round trip of every matrix, one scale per output column."""
    quantized = {}
    for name, tensor in state.items():
        if tensor.dim() != 2:
            quantized[name] = tensor.clone()
            continue
        scale = tensor.abs().amax(dim=0, keepdim=True).clamp_min(1e-12) / 127.0
        quantized[name] = (tensor / scale).round().clamp(-127, 127) * scale
    return quantized


class RandomBackend(Engine):
    """Random bytes, with the log-probability of a uniform guess."""

    def __init__(self, checkpoint: Checkpoint, fingerprint: bytes):
        super().__init__(checkpoint, fingerprint)
        self.rng = random.Random()

    def serve(
        self, prompt: tuple[int, ...], max_tokens: int, params: SamplingParams, top_n: int = 0
    ) -> Iterator[TokenOut]:
        uniform = -torch.log(torch.tensor(float(self.config.vocab_size))).item()
        for _ in range(max_tokens):
            token = self.rng.randrange(self.config.vocab_size)
            yield TokenOut(token, uniform, tuple((token, uniform) for _ in range(min(top_n, 1))))


class ReplayBackend(Engine):
    """Computes an honest answer once, then hands earlier answers to new prompts."""

    def __init__(self, checkpoint: Checkpoint, fingerprint: bytes):
        super().__init__(checkpoint, fingerprint)
        self.answers: list[list[TokenOut]] = []

    def serve(
        self, prompt: tuple[int, ...], max_tokens: int, params: SamplingParams, top_n: int = 0
    ) -> Iterator[TokenOut]:
        for answer in reversed(self.answers):
            if len(answer) >= max_tokens:
                yield from answer[:max_tokens]
                return
        answer = list(self.stream_cached(prompt, max_tokens, params, top_n))
        self.answers.append(answer)
        yield from answer
