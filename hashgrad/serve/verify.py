"""Verification of a served completion by recomputation: one teacher-forced forward pass.

A claim is what a server answered (prompt, completion tokens, their log-probabilities, the
sampling parameters and seed, the checkpoint fingerprint). The verifier runs the model once over
prompt + completion, which yields the logits that preceded every completion token at once — far
cheaper than generating, which needs one pass per token — and checks each token against the
sampling rule of `engine`:

    greedy   the token's logit is within `logit` of the maximum (a near-tie is accepted)
    sampled  the position's draw u falls in the token's CDF interval, within `prob`, under the
             recomputed distribution (and the top-k/top-p cut, allowing for near-ties at its edge)
    logprob  the reported raw log-probability is within `logprob` of the recomputed one

The tolerances absorb the last-bit differences between an incremental (cached) forward pass and
a full one (measured ~2e-6 on CPU), and leave room for other kernels; an answer from another,
older, truncated or quantized model, random tokens or an answer to another prompt fails.
Reason codes: wrong-model, wrong-seed, bad-token, short-completion, long-completion,
bad-finish-reason, context-overflow, missing-logprobs, wrong-token, wrong-logprob.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hashgrad.serve.engine import (
    Engine,
    SamplingParams,
    compute_cut,
    compute_descending,
    compute_draw,
    compute_logprobs,
    compute_probs,
)

TOKEN_OK = "ok"
TOKEN_NEAR_TIE = "near-tie"


@dataclass(frozen=True)
class Tolerance:
    logit: float = 1e-3  # greedy: how far below the maximum a chosen logit may be
    prob: float = 1e-4  # sampled: slack on CDF interval edges and on the top-p/top-k cut
    logprob: float = 1e-4  # reported vs recomputed raw log-probability (int8 weights drift ~4e-4)


@dataclass(frozen=True)
class Claim:
    """What a server answered for one request, as the verifier needs it."""

    prompt: tuple[int, ...]
    tokens: tuple[int, ...]
    logprobs: tuple[float, ...] | None
    params: SamplingParams
    max_tokens: int
    finish_reason: str
    fingerprint: bytes
    seed: int | None = None  # the seed the server says it used (must equal params.seed when sampling)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str  # "ok" or the first failing reason code
    token_verdicts: tuple[str, ...] = ()
    first_bad: int = -1  # index of the first failing token, -1 if none

    @property
    def num_near_ties(self) -> int:
        return sum(v == TOKEN_NEAR_TIE for v in self.token_verdicts)


def fail(reason: str) -> Verdict:
    return Verdict(False, reason)


def check_claim_shape(
    claim: Claim, expected_fingerprint: bytes, context: int, require_logprobs: bool, vocab_size: int = 256
) -> str:
    """The reason a claim fails before any model arithmetic, or "ok"."""
    if claim.fingerprint != expected_fingerprint:
        return "wrong-model"
    if not claim.params.is_greedy and claim.seed is not None and claim.seed != claim.params.seed:
        return "wrong-seed"
    if any(not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < vocab_size for t in claim.tokens):
        return "bad-token"
    if claim.finish_reason != "length":
        return "bad-finish-reason"
    if len(claim.tokens) < claim.max_tokens:
        return "short-completion"
    if len(claim.tokens) > claim.max_tokens:
        return "long-completion"
    if not claim.prompt or len(claim.prompt) + len(claim.tokens) > context:
        return "context-overflow"
    if require_logprobs and (claim.logprobs is None or len(claim.logprobs) != len(claim.tokens)):
        return "missing-logprobs"
    return "ok"


def verify_completion(
    engine: Engine,
    claim: Claim,
    expected_fingerprint: bytes,
    require_logprobs: bool = True,
    tolerance: Tolerance = Tolerance(),
) -> Verdict:
    """Check every token of a completion with one forward pass of the expected model."""
    reason = check_claim_shape(claim, expected_fingerprint, engine.context, require_logprobs, engine.config.vocab_size)
    if reason != "ok":
        return fail(reason)
    if not claim.tokens:
        return Verdict(True, "ok")
    sequence = claim.prompt + claim.tokens[:-1]
    logits = engine.compute_logits(sequence)[len(claim.prompt) - 1 :]  # row i preceded token i
    verdicts = []
    for i, token in enumerate(claim.tokens):
        verdict = compute_token_verdict(logits[i], claim.params, len(claim.prompt) + i, token, tolerance)
        if verdict in (TOKEN_OK, TOKEN_NEAR_TIE) and claim.logprobs is not None:
            if not is_close_logprob(claim.logprobs[i], float(compute_logprobs(logits[i])[token]), tolerance.logprob):
                verdict = "wrong-logprob"
        verdicts.append(verdict)
    bad = [i for i, v in enumerate(verdicts) if v not in (TOKEN_OK, TOKEN_NEAR_TIE)]
    if bad:
        return Verdict(False, verdicts[bad[0]], tuple(verdicts), bad[0])
    return Verdict(True, "ok", tuple(verdicts))


def is_close_logprob(claimed, recomputed: float, tol: float) -> bool:
    return isinstance(claimed, (int, float)) and math.isfinite(claimed) and abs(claimed - recomputed) <= tol


def compute_token_verdict(
    logits: np.ndarray, params: SamplingParams, position: int, token: int, tolerance: Tolerance
) -> str:
    if params.is_greedy:
        best = float(logits.max())
        if float(logits[token]) >= best - tolerance.logit:
            return TOKEN_OK if token == int(np.argmax(logits)) else TOKEN_NEAR_TIE
        return "wrong-token"
    probs = compute_probs(logits, params.temperature)
    u = compute_draw(params.seed, position)
    for rank, kept in enumerate(compute_kept_variants(probs, params, tolerance.prob)):
        if is_in_interval(probs, kept, token, u, tolerance.prob):
            return TOKEN_OK if rank == 0 else TOKEN_NEAR_TIE
    return "wrong-token"


def compute_kept_variants(probs: np.ndarray, params: SamplingParams, tol: float) -> list[np.ndarray]:
    """The kept set of the sampling rule, then the sets a near-tie at its edge could have given."""
    descending = compute_descending(probs)
    n = compute_cut(probs, descending, params)
    variants = [descending[:n]]
    cumulative = np.cumsum(probs[descending])
    sizes = []
    if n > 1 and params.top_p < 1.0 and cumulative[n - 2] >= params.top_p - tol:
        sizes.append(n - 1)
    if n < probs.size and params.top_p < 1.0 and cumulative[n - 1] < params.top_p + tol:
        sizes.append(n + 1)
    for size in [n] + sizes:
        if size != n:
            variants.append(descending[:size])
        if size < probs.size and abs(probs[descending[size - 1]] - probs[descending[size]]) <= tol:
            swapped = descending[:size].copy()
            swapped[-1] = descending[size]
            variants.append(swapped)
    return variants


def is_in_interval(probs: np.ndarray, kept: np.ndarray, token: int, u: float, tol: float) -> bool:
    """Whether draw u lands on `token` (within tol) in the inverse CDF over `kept` by increasing id."""
    kept = np.sort(kept)
    where = np.flatnonzero(kept == token)
    if where.size == 0:
        return False
    cdf = np.cumsum(probs[kept])
    cdf = cdf / cdf[-1]
    i = int(where[0])
    low = 0.0 if i == 0 else float(cdf[i - 1])
    return low - tol <= u < float(cdf[i]) + tol
