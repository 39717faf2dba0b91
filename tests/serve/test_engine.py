"""Generation: the sampling rule against an independent brute-force reading of it, the cached fast
path against the reference loop, exact reproducibility, and request checks."""

from __future__ import annotations

import hashlib
import math
import random
import struct

import numpy as np
import pytest

from hashgrad.errors import WorkError
from hashgrad.serve.engine import (
    SamplingParams,
    check_request,
    compute_draw,
    compute_next_token,
    decode_text,
    encode_text,
)

PROMPT = encode_text("from email import ")


def brute_force_token(logits: list[float], params: SamplingParams, position: int) -> int:
    """The module docstring's rule, written the slow way with Python floats."""
    if params.temperature == 0:
        best = max(logits)
        return logits.index(best)
    z = [x / params.temperature for x in logits]
    top = max(z)
    weights = [math.exp(x - top) for x in z]
    total = sum(weights)
    probs = [w / total for w in weights]
    order = sorted(range(len(probs)), key=lambda i: (-probs[i], i))
    if params.top_k:
        order = order[: params.top_k]
    if params.top_p < 1.0:
        mass, cut = 0.0, []
        for i in order:
            cut.append(i)
            mass += probs[i]
            if mass >= params.top_p:
                break
        order = cut
    kept = sorted(order)
    tag = hashlib.sha256(b"hashgrad/serve/draw").digest()
    digest = hashlib.sha256(tag + tag + struct.pack("<QI", params.seed, position)).digest()
    u = (int.from_bytes(digest[:8], "little") >> 11) / 2**53
    mass_total = sum(probs[i] for i in kept)
    running = 0.0
    for i in kept:
        running += probs[i]
        if u * mass_total < running:
            return i
    return kept[-1]


def test_compute_next_token_matches_brute_force():
    rng = random.Random(1)
    for _ in range(300):
        logits = [rng.gauss(0, 3) for _ in range(256)]
        params = SamplingParams(
            temperature=rng.choice([0.0, 0.3, 0.7, 1.0, 1.5]),
            top_k=rng.choice([0, 1, 5, 40]),
            top_p=rng.choice([1.0, 0.9, 0.5, 0.1]),
            seed=rng.randrange(2**63),
        ).check()
        position = rng.randrange(1000)
        assert compute_next_token(np.array(logits), params, position) == brute_force_token(logits, params, position)


def test_compute_draw_is_counter_based():
    draws = [compute_draw(7, position) for position in range(1000)]
    assert all(0.0 <= u < 1.0 for u in draws)
    assert draws == [compute_draw(7, position) for position in range(1000)]
    assert draws != [compute_draw(8, position) for position in range(1000)]
    assert 0.45 < sum(draws) / len(draws) < 0.55


def test_top_k_one_is_greedy():
    rng = np.random.default_rng(0)
    for _ in range(50):
        logits = rng.normal(size=256)
        assert compute_next_token(logits, SamplingParams(1.0, 1, 1.0, 5), 3) == int(np.argmax(logits))


@pytest.mark.parametrize(
    "params", [SamplingParams(), SamplingParams(0.8, 40, 0.95, 11), SamplingParams(1.2, 0, 1.0, 2)]
)
def test_cached_path_gives_the_reference_tokens(engine, params):
    reference = engine.generate(PROMPT, 40, params, cached=False)
    fast = engine.generate(PROMPT, 40, params, cached=True)
    assert fast.tokens == reference.tokens
    assert max(abs(a - b) for a, b in zip(fast.logprobs, reference.logprobs)) < 1e-5
    assert len(fast.tokens) == 40 and fast.finish_reason == "length"


def test_generation_is_reproducible_and_seeded(engine):
    params = SamplingParams(0.9, 0, 1.0, 1234)
    first = engine.generate(PROMPT, 40, params)
    assert engine.generate(PROMPT, 40, params) == first
    assert engine.generate(PROMPT, 40, SamplingParams(0.9, 0, 1.0, 1235)).tokens != first.tokens


def test_top_logprobs_are_sorted_and_contain_greedy_choice(engine):
    outs = list(engine.serve(PROMPT, 5, SamplingParams(), top_n=3))
    for out in outs:
        assert len(out.top) == 3 and out.top[0] == (out.token, out.logprob)
        assert out.top[0][1] >= out.top[1][1] >= out.top[2][1]


def test_text_round_trip_replaces_bad_bytes():
    assert decode_text(encode_text("héllo")) == "héllo"
    assert decode_text((0x68, 0xC3)) == "h\ufffd"


@pytest.mark.parametrize(
    "tokens, max_tokens, reason",
    [
        ((), 4, "empty-prompt"),
        ((300,), 4, "bad-token"),
        (tuple(range(64)), 1, "prompt-too-long"),
        ((1, 2), 0, "bad-max-tokens"),
        (tuple(range(60)), 5, "context-overflow"),
    ],
)
def test_check_request_rejects(tokens, max_tokens, reason):
    with pytest.raises(WorkError) as info:
        check_request(tokens, max_tokens, 64)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "params, reason",
    [
        (SamplingParams(temperature=-1.0), "bad-temperature"),
        (SamplingParams(temperature=float("nan")), "bad-temperature"),
        (SamplingParams(top_k=-1), "bad-top-k"),
        (SamplingParams(top_p=0.0), "bad-top-p"),
        (SamplingParams(seed=-5), "bad-seed"),
        (SamplingParams(seed=2**64), "bad-seed"),
    ],
)
def test_sampling_params_check(params, reason):
    with pytest.raises(WorkError) as info:
        params.check()
    assert info.value.reason == reason
