"""Validator scoring: revealed artifacts -> per-miner verdicts -> normalized weights. Pure.

`compute_scores(inputs, state)` is a deterministic function of its arguments (checkpoint, dataset,
epoch seed, the validator's salt, the revealed submissions, recent history, the validator's
previous ratings); two processes given the same inputs produce identical weights, and anyone
who learns the disclosed salt can re-check them. The stages (notes/training-protocol.md §9.1):

1. format: decodes under the job's limits; hotkey, epoch and base checkpoint match; the
   commitment binds them (stale base -> `stale-base`); the update is not zero and its norm is
   within [norm_low, norm_high] x the epoch's median.
2. copies: cosine >= dup_cosine with an *earlier-committed* submission (`copy`) or with an update
   from the last epochs (`replay`): the later commitment loses.
3. loss test on the miner's own windows vs shared random windows (evaluate.compute_loss_test).
4. replay audit with probability audit_probability: a validator of the miner's CPU class replays a
   prefix of the run to a milestone the miner could not predict (evaluate.is_prefix_exact); one of
   another class replays the whole run on its own hardware with a tolerance from the miner's
   revealed states, and a failure names the first diverging milestone (work.crossclass).
5. rating = EMA of the random-data gain relative to the epoch's median significant gain, raised to
   gain_power (superlinear) and capped; zero unless significant and at least min_relative_gain of
   the median; gate = EMA of ±1 (own data not significantly worse than random); score =
   rating if gate > 0 and nothing was flagged this epoch; a failed audit bans the hotkey for good
   (the chain slashes its stake); weights = scores / sum.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from hashgrad.errors import WorkError
from hashgrad.incentive.fixed import U16_MAX
from hashgrad.work.compress import Layout, compute_layout, decompress
from hashgrad.work.crossclass import check_cross_class
from hashgrad.work.data import Dataset
from hashgrad.work.evaluate import (LossTest, compute_audit_steps, compute_batched_loss, compute_loss_test,
                                    compute_own_windows, compute_random_windows, is_audited, is_prefix_exact)
from hashgrad.work.hardware import CPU_FP32, Runtime, is_exact_class, parse_hardware_class
from hashgrad.work.hashing import compute_commitment, compute_tagged_hash
from hashgrad.work.model import Checkpoint
from hashgrad.work.params import WorkParams
from hashgrad.work.update import UpdateHeader, compute_artifact_id, decode_update

TAG_SALT = "hashgrad/work/salt"


@dataclass(frozen=True)
class Submission:
    uid: int
    hotkey: bytes
    commitment: bytes
    commit_order: int  # position of the commitment on chain; smaller is earlier
    artifact: bytes | None  # revealed bytes, or None if never revealed
    reveal: bytes | None = None  # the miner's milestone states and Δ (crossclass.encode_reveal), for audits


@dataclass(frozen=True)
class ScoringInputs:
    params: WorkParams
    epoch: int
    seed: bytes
    salt: bytes
    checkpoint: Checkpoint
    checkpoint_hash: bytes
    dataset: Dataset
    submissions: tuple[Submission, ...]
    history: tuple[torch.Tensor, ...] = ()  # dense updates of recent epochs and recent global steps
    runtime: Runtime = CPU_FP32  # the validator's device (audits replay there, in the miner's precision)
    cross_class_audits: bool = True  # False where miners' revealed states cannot reach this validator


@dataclass(frozen=True)
class Rating:
    rating: float = 0.0  # EMA of the accepted random-data gain
    gate: float = 0.0  # EMA of +1 (fits its own data) / -1
    banned: bool = False  # failed a replay audit: never scored again by this validator


@dataclass(frozen=True)
class ValidatorState:
    ratings: dict[bytes, Rating] = field(default_factory=dict)  # by hotkey


@dataclass(frozen=True)
class Verdict:
    uid: int
    hotkey: bytes
    reason: str | None  # None = passed every check
    norm: float = 0.0
    loss_test: LossTest | None = None
    audited: bool = False
    score: float = 0.0
    audit_steps: int = 0  # inner steps the audit replayed (0 when not audited)
    diverged_at: int | None = None  # a failed cross-class audit: the step ending the first diverging segment


@dataclass(frozen=True)
class ScoreReport:
    verdicts: tuple[Verdict, ...]
    weights: dict[int, float]  # uid -> normalized weight (sums to 1, or empty)
    weights_u16: dict[int, int]  # uid -> max-upscaled to 65535, as Bittensor sets them
    state: ValidatorState
    updates: dict[int, torch.Tensor]  # uid -> decoded dense update, for aggregation


def compute_salt_commitment(salt: bytes, validator_hotkey: bytes, epoch: int) -> bytes:
    """What a validator posts before the reveal; it discloses `salt` after scoring."""
    return compute_tagged_hash(TAG_SALT, salt + validator_hotkey + epoch.to_bytes(8, "little"))


def compute_decoded(sub: Submission, inputs: ScoringInputs, layout: Layout) -> tuple[UpdateHeader, torch.Tensor]:
    """Stage-1 decoding and binding checks for one submission; raises WorkError with the reason."""
    if sub.artifact is None:
        raise WorkError("not-revealed")
    header, payload = decode_update(sub.artifact, inputs.params, layout)
    if header.hotkey != sub.hotkey:
        raise WorkError("wrong-hotkey")
    if header.epoch != inputs.epoch:
        raise WorkError("wrong-epoch")
    if header.base_checkpoint != inputs.checkpoint_hash:
        raise WorkError("stale-base")
    expected = compute_commitment(compute_artifact_id(sub.artifact), sub.hotkey, inputs.epoch,
                                  inputs.params.job_id, inputs.checkpoint_hash)
    if expected != sub.commitment:
        raise WorkError("bad-commitment")
    return header, decompress(payload, layout)


def compute_median(values: list[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


def compute_median_norm(updates: dict[int, torch.Tensor]) -> float:
    """Median norm of all non-zero submissions (the clip level for evaluation and aggregation)."""
    return compute_median([float(u.norm()) for u in updates.values() if float(u.norm()) > 0])


def compute_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    denom = float(a.norm()) * float(b.norm())
    return float(a @ b) / denom if denom > 0 else 0.0


def compute_flags(inputs: ScoringInputs, updates: dict[int, torch.Tensor], order: list[Submission]) -> dict[int, str]:
    """uid -> reason for norm, copy and replay failures (stage 1b and 2)."""
    params, flags = inputs.params, {}
    median = compute_median_norm(updates)
    earlier: list[int] = []
    for sub in order:
        if sub.uid not in updates:
            continue
        update, norm = updates[sub.uid], float(updates[sub.uid].norm())
        if norm == 0.0:
            flags[sub.uid] = "zero-update"
        elif not params.norm_low * median <= norm <= params.norm_high * median:
            flags[sub.uid] = "norm-out-of-bounds"
        elif any(compute_cosine(update, updates[uid]) >= params.dup_cosine for uid in earlier):
            flags[sub.uid] = "copy"
        elif any(compute_cosine(update, old) >= params.dup_cosine for old in inputs.history):
            flags[sub.uid] = "replay"
        earlier.append(sub.uid)
    return flags


def compute_clipped(update: torch.Tensor, max_norm: float) -> torch.Tensor:
    norm = float(update.norm())
    return update * (max_norm / norm) if norm > max_norm > 0 else update


def compute_median_gain(tests: dict[int, LossTest]) -> float:
    """The epoch's median significant random-data gain: the yardstick every gain is measured against."""
    return compute_median([t.s_rand for t in tests.values() if t.significant])


def compute_gain_score(test: LossTest, median: float, params: WorkParams) -> float:
    """(s_rand / median)^gain_power, capped at gain_cap, for a significant gain of at least
    min_relative_gain x the median; else 0. A power above 1 widens small shortfalls (a partial job
    that helps a little less than honest work) into large losses of reward."""
    if not test.significant or median <= 0 or test.s_rand < params.min_relative_gain * median:
        return 0.0
    return min(test.s_rand / median, params.gain_cap) ** params.gain_power


def compute_next_rating(previous: Rating, reason: str | None, test: LossTest | None, median: float,
                        params: WorkParams) -> Rating:
    alpha = params.score_ema
    if previous.banned or reason == "audit-failed":
        return Rating(0.0, -1.0, banned=True)
    if reason is not None or test is None:
        return Rating(0.0, (1 - alpha) * previous.gate - alpha)
    gain = compute_gain_score(test, median, params)
    return Rating((1 - alpha) * previous.rating + alpha * gain,
                  (1 - alpha) * previous.gate + alpha * (1.0 if test.fits_own_data else -1.0))


def compute_weights(scores: dict[int, float]) -> tuple[dict[int, float], dict[int, int]]:
    """Normalized float weights and their u16 form, max-upscaled so the largest is 65535."""
    total = sum(scores.values())
    if total <= 0:
        return {}, {}
    weights = {uid: s / total for uid, s in sorted(scores.items()) if s > 0}
    best = max(weights.values())
    return weights, {uid: int(round(w / best * U16_MAX)) for uid, w in weights.items()}


def compute_scores(inputs: ScoringInputs, state: ValidatorState) -> ScoreReport:
    params = inputs.params
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    order = sorted(inputs.submissions, key=lambda s: (s.commit_order, s.uid))
    if len({s.uid for s in order}) != len(order) or len({s.hotkey for s in order}) != len(order):
        raise WorkError("duplicate-submitter", "one submission per uid and hotkey")
    reasons, updates, headers = {}, {}, {}
    for sub in order:
        try:
            headers[sub.uid], updates[sub.uid] = compute_decoded(sub, inputs, layout)
        except WorkError as exc:
            reasons[sub.uid] = exc.reason
    reasons |= compute_flags(inputs, updates, order)
    passed = [s for s in order if s.uid not in reasons]
    tests, audited = compute_loss_tests(inputs, passed, updates)
    if not inputs.cross_class_audits:
        audited = {uid: steps for uid, steps in audited.items() if is_exact_replay(inputs, headers[uid])}
    diverged = {}
    for sub in passed:
        if sub.uid in audited:
            ok, audited[sub.uid], diverged[sub.uid] = compute_audit(inputs, sub, headers[sub.uid], audited[sub.uid])
            if not ok:
                reasons[sub.uid] = "audit-failed"
    return compute_report(inputs, state, order, reasons, updates, tests, audited, diverged)


def get_audit_runtime(inputs: ScoringInputs, header: UpdateHeader) -> Runtime:
    """The validator's device, run in the precision the miner declared."""
    return replace(inputs.runtime, precision=parse_hardware_class(header.hardware).precision)


def is_exact_replay(inputs: ScoringInputs, header: UpdateHeader) -> bool:
    return is_exact_class(parse_hardware_class(header.hardware), get_audit_runtime(inputs, header).get_class())


def compute_audit(inputs: ScoringInputs, sub: Submission, header: UpdateHeader, steps: int) -> tuple[bool, int, int | None]:
    """(passed, inner steps replayed, first diverging step): exact prefix replay within the miner's
    class, tolerance replay from its revealed states across classes."""
    runtime = get_audit_runtime(inputs, header)
    if is_exact_replay(inputs, header):
        return is_prefix_exact(inputs.checkpoint, inputs.dataset, inputs.seed, sub.hotkey, inputs.params, header,
                               steps, runtime), steps, None
    verdict = check_cross_class(inputs.checkpoint, inputs.dataset, inputs.seed, sub.hotkey, inputs.params, header,
                                sub.reveal, runtime)
    return verdict.passed, verdict.replayed_steps, verdict.first_bad_step


def compute_loss_tests(inputs: ScoringInputs, passed: list[Submission], updates: dict[int, torch.Tensor]):
    """(uid -> LossTest, uid -> inner steps its audit replays) for the submissions that passed stages 1-2."""
    params, checkpoint = inputs.params, inputs.checkpoint
    if not passed:
        return {}, {}
    base_model = checkpoint.build_model().eval()
    rand = compute_random_windows(inputs.dataset, params, inputs.seed, inputs.salt, [s.hotkey for s in passed])
    rand_before = compute_batched_loss(base_model, rand)
    clip = compute_median_norm(updates)
    tests = {}
    for sub in passed:
        own = compute_own_windows(inputs.dataset, params, inputs.seed, inputs.salt, sub.hotkey)
        tests[sub.uid] = compute_loss_test(checkpoint, compute_clipped(updates[sub.uid], clip), params, own,
                                           compute_batched_loss(base_model, own), rand, rand_before)
    audited = {s.uid: compute_audit_steps(inputs.seed, inputs.salt, s.hotkey, params) for s in passed
               if is_audited(inputs.seed, inputs.salt, s.hotkey, params.audit_probability)}
    return tests, audited


def compute_report(inputs, state, order, reasons, updates, tests, audited, diverged) -> ScoreReport:
    ratings = dict(state.ratings)
    verdicts, scores = [], {}
    median = compute_median_gain(tests)
    for sub in order:
        reason, test = reasons.get(sub.uid), tests.get(sub.uid)
        previous = ratings.get(sub.hotkey, Rating())
        if previous.banned and reason is None:
            reason = "banned"
        rating = compute_next_rating(previous, reason, test, median, inputs.params)
        ratings[sub.hotkey] = rating
        score = rating.rating if reason is None and rating.gate > 0 else 0.0
        scores[sub.uid] = score
        norm = float(updates[sub.uid].norm()) if sub.uid in updates else 0.0
        verdicts.append(Verdict(sub.uid, sub.hotkey, reason, norm, test, sub.uid in audited, score,
                                audited.get(sub.uid, 0), diverged.get(sub.uid)))
    weights, weights_u16 = compute_weights(scores)
    return ScoreReport(tuple(verdicts), weights, weights_u16, replace(state, ratings=ratings), updates)
