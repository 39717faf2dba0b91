"""Verification by recomputation: honest answers pass, every cheating server is caught, and each
malformed claim fails with its reason code."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hashgrad.serve.adversaries import ADVERSARY_KINDS, build_backend
from hashgrad.serve.engine import SamplingParams, encode_text
from hashgrad.serve.verify import Claim, Tolerance, compute_token_verdict, verify_completion

PROMPTS = [
    encode_text(s)
    for s in ("from email import ", "def parse(self, line):\n    ", "class Message:\n", "    return self._")
]
GREEDY = SamplingParams()
SAMPLED = SamplingParams(0.9, 40, 0.95, 3)


def make_claim(backend, prompt, params, max_tokens=24, logprobs=True) -> Claim:
    outs = list(backend.serve(prompt, max_tokens, params))
    return Claim(
        prompt,
        tuple(o.token for o in outs),
        tuple(o.logprob for o in outs) if logprobs else None,
        params,
        max_tokens,
        "length",
        backend.fingerprint,
        params.seed,
    )


@pytest.mark.parametrize("params", [GREEDY, SAMPLED, SamplingParams(1.3, 0, 1.0, 99), SamplingParams(0.5, 3, 1.0, 7)])
def test_honest_answers_pass(engine, fingerprint, params):
    for prompt in PROMPTS:
        verdict = verify_completion(engine, make_claim(engine, prompt, params), fingerprint)
        assert verdict.ok and verdict.reason == "ok" and len(verdict.token_verdicts) == 24


@pytest.mark.parametrize("kind", ADVERSARY_KINDS)
@pytest.mark.parametrize("params", [GREEDY, SAMPLED])
def test_every_adversary_is_caught(engine, fingerprint, current, older, kind, params):
    backend = build_backend(kind, current, older)
    assert backend.fingerprint == fingerprint  # every cheat claims the current checkpoint
    verdicts = [verify_completion(engine, make_claim(backend, prompt, params), fingerprint) for prompt in PROMPTS]
    failed = [v for v in verdicts if not v.ok]
    # replay answers its first prompt honestly; every other answer is caught
    assert len(failed) == (len(PROMPTS) - 1 if kind == "replay" else len(PROMPTS))
    assert {v.reason for v in failed} <= {"wrong-token", "wrong-logprob"}


def test_one_changed_token_is_pinpointed(engine, fingerprint):
    claim = make_claim(engine, PROMPTS[0], GREEDY)
    tokens = list(claim.tokens)
    tokens[10] = (tokens[10] + 1) % 256
    verdict = verify_completion(engine, replace(claim, tokens=tuple(tokens)), fingerprint, require_logprobs=False)
    assert not verdict.ok and verdict.reason == "wrong-token" and verdict.first_bad == 10


def test_tampered_logprob_is_caught(engine, fingerprint):
    claim = make_claim(engine, PROMPTS[1], SAMPLED)
    logprobs = list(claim.logprobs)
    logprobs[5] += 0.01
    verdict = verify_completion(engine, replace(claim, logprobs=tuple(logprobs)), fingerprint)
    assert verdict.reason == "wrong-logprob" and verdict.first_bad == 5


@pytest.mark.parametrize(
    "change, reason",
    [
        (dict(fingerprint=bytes(32)), "wrong-model"),
        (dict(seed=4), "wrong-seed"),
        (dict(max_tokens=25), "short-completion"),
        (dict(max_tokens=23), "long-completion"),
        (dict(finish_reason="stop"), "bad-finish-reason"),
        (dict(logprobs=None), "missing-logprobs"),
        (dict(tokens=(256,) * 24), "bad-token"),
        (dict(prompt=tuple(range(50))), "context-overflow"),
    ],
)
def test_malformed_claims_fail(engine, fingerprint, change, reason):
    claim = make_claim(engine, PROMPTS[0], SAMPLED)
    verdict = verify_completion(engine, replace(claim, **change), fingerprint)
    assert not verdict.ok and verdict.reason == reason


def test_greedy_near_tie_is_accepted_within_tolerance():
    logits = np.zeros(256)
    logits[[3, 9]] = [5.0, 5.0 - 5e-4]
    tol = Tolerance()
    assert compute_token_verdict(logits, GREEDY, 0, 3, tol) == "ok"
    assert compute_token_verdict(logits, GREEDY, 0, 9, tol) == "near-tie"
    logits[9] = 5.0 - 2e-3
    assert compute_token_verdict(logits, GREEDY, 0, 9, tol) == "wrong-token"


def test_sampled_top_k_edge_tie_is_accepted():
    """Two tokens tied at the top-k edge: the server may have kept either one."""
    logits = np.full(256, -20.0)
    logits[[10, 20, 30]] = [2.0, 1.0, 1.0 - 1e-7]
    params = SamplingParams(1.0, 2, 1.0, 0)
    tol = Tolerance()
    # find a position whose draw lands above token 10's mass, i.e. on the tied second token
    position = next(p for p in range(200) if compute_token_verdict(logits, params, p, 10, tol) == "wrong-token")
    assert compute_token_verdict(logits, params, position, 20, tol) == "ok"
    assert compute_token_verdict(logits, params, position, 30, tol) == "near-tie"
    logits[30] = 0.5  # no longer tied: keeping 30 instead of 20 is wrong
    assert compute_token_verdict(logits, params, position, 30, tol) == "wrong-token"
