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
3. loss test on the miner's own windows vs shared random windows (evaluate.compute_loss_test),
   the update clipped to the epoch's score_clip_quantile norm (above the median: more work than the
   median miner is credited; inflating past what the others send is not).
4. replay audit with probability audit_probability, times audit_boost for new or recently flagged
   hotkeys: a validator of the miner's hardware class replays a prefix of the run (at its declared
   batch and steps, update.get_run_params) to a milestone the
   miner could not predict, and a mismatch yields an `AuditEvidence` record (audit_evidence.py) to
   publish; records published by others are re-checked and convict the miner here too
   (`apply_audit_evidence`). A validator of another class replays the whole run on its own hardware
   with a tolerance from the miner's revealed states (fetched only then, through `fetch_reveal`;
   none to be had fails the audit), and a failure names the first diverging milestone (work.crossclass).
5. round credit = (s_rand / median significant gain)^gain_power, capped, zero unless significant and
   at least min_relative_gain of the median, times the own-data factor (own-window excess over the
   median excess, at most 1), times the declared effort (batch x steps in the update header over
   the job's: audits replay that run, so only work the miner can prove is paid), and zero if the
   own-data gate fails (compute_own_gate: Templar's own-vs-random test once the epoch's median
   update shows its own-data advantage clearly);
   rating = EMA of the credit; score = rating if the gate passed and nothing was flagged this epoch;
   a failed audit bans the hotkey for good (the chain slashes its stake); weights = scores / sum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from hashgrad.errors import HashgradError, WorkError
from hashgrad.incentive.fixed import U16_MAX
from hashgrad.work.audit_evidence import AuditEvidence, check_evidence, compute_audit_evidence
from hashgrad.work.compress import Layout, compute_layout, decompress
from hashgrad.work.crossclass import check_cross_class
from hashgrad.work.data import Dataset, compute_windows
from hashgrad.work.evaluate import (
    LossTest,
    compute_audit_steps,
    compute_batched_loss,
    compute_loss_test,
    compute_own_refs,
    compute_random_refs,
    is_audited,
)
from hashgrad.work.hardware import CPU_FP32, Runtime, is_exact_class, parse_hardware_class
from hashgrad.work.hashing import compute_commitment, compute_tagged_hash
from hashgrad.work.model import Checkpoint
from hashgrad.work.params import WorkParams
from hashgrad.work.update import UpdateHeader, compute_artifact_id, decode_update, get_run_params

TAG_SALT = "hashgrad/work/salt"


@dataclass(frozen=True)
class Submission:
    uid: int
    hotkey: bytes
    commitment: bytes
    commit_order: int  # position of the commitment on chain; smaller is earlier
    artifact: bytes | None  # revealed bytes, or None if never revealed
    reveal: bytes | None = None  # the miner's milestone states and Δ (reveal.encode_reveal), for audits


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
    # the shell's loader of a submission's reveal (the chunks its header names), called only when an
    # update of another class is audited, so that reveals cost bandwidth only when audited; it raises
    # the project's error when the reveal cannot be had, and the audit fails
    fetch_reveal: Callable[[Submission, UpdateHeader], bytes] | None = None
    forced_audits: frozenset[bytes] = frozenset()  # hotkeys replayed in full whatever the draw (a tip, a bench)
    evidence: tuple[AuditEvidence, ...] = ()  # failed-audit records published by others this epoch


@dataclass(frozen=True)
class Rating:
    rating: float = 0.0  # EMA of the round credit (gain score x own-data factor)
    gate: float = 0.0  # EMA of +1 (passed the own-data gate) / -1
    banned: bool = False  # failed a replay audit (its own or a published one): never scored again
    seen: int = 0  # epochs this validator has scored the hotkey
    suspect: bool = False  # flagged, or failed the own-data gate, in its last epoch (audited more often)


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
    evidence: tuple[AuditEvidence, ...] = ()  # this validator's failed audits, to publish


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
    expected = compute_commitment(
        compute_artifact_id(sub.artifact), sub.hotkey, inputs.epoch, inputs.params.job_id, inputs.checkpoint_hash
    )
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


@dataclass(frozen=True)
class OwnGate:
    """The epoch's own-data yardstick. Early in training an update helps every page alike and no honest
    miner can show that it favours its own windows. Once the median tested update shows that advantage
    by own_factor_z standard errors it is `measurable`, and credit is scaled by each miner's advantage
    (compute_own_factor); once it shows it by gate_z + gate_margin errors, i.e. once an honest miner
    would pass it in about 99 % of rounds, the strict gate (own gain significantly above the random
    gain) is `enforced`. Until then a miner only must not do significantly worse on its own windows
    than on random ones (is_own_gate_passed)."""

    enforced: bool
    measurable: bool
    median_excess: float  # median (s_own - s_rand) of the significant tests


def compute_own_gate(tests: dict[int, LossTest], params: WorkParams) -> OwnGate:
    significant = [t for t in tests.values() if t.significant]
    z = compute_median([t.excess / t.diff_stderr if t.diff_stderr > 0 else 0.0 for t in significant])
    median_excess = compute_median([t.excess for t in significant])
    return OwnGate(
        bool(significant) and z >= params.gate_z + params.gate_margin,
        bool(significant) and z >= params.own_factor_z and median_excess > 0,
        median_excess,
    )


def is_own_gate_passed(test: LossTest, gate: OwnGate, params: WorkParams) -> bool:
    """The strict gate once enforced; before, fail only an update significantly *worse* on its own windows
    than on random ones, by gate_z errors (as the gate did before it had a strict form)."""
    if gate.enforced:
        return test.fits_own_data
    return test.excess > -params.gate_z * test.diff_stderr


def compute_own_factor(test: LossTest, gate: OwnGate) -> float:
    """Share of the credit for data faithfulness: (own-window excess / the median excess), at most 1,
    once the advantage is measurable (a miner that trained on a quarter of its pages keeps about a quarter)."""
    if not gate.measurable or gate.median_excess <= 0:
        return 1.0
    return min(1.0, max(0.0, test.excess / gate.median_excess))


def compute_gain_score(test: LossTest, median: float, params: WorkParams) -> float:
    """(s_rand / median)^gain_power, capped at gain_cap, for a significant gain of at least
    min_relative_gain x the median; else 0. A power above 1 widens small shortfalls (a partial job
    that helps a little less than honest work) into large losses of reward."""
    if not test.significant or median <= 0 or test.s_rand < params.min_relative_gain * median:
        return 0.0
    return min(test.s_rand / median, params.gain_cap) ** params.gain_power


def compute_effort_factor(header: UpdateHeader, params: WorkParams) -> float:
    """The share of a full job's work the miner declares (its tokens, batch x steps, over the job's), which
    audits check: a miner is paid for the work it can prove, as a Bitcoin miner is for its hashes."""
    return header.batch_size * header.inner_steps / (params.batch_size * params.inner_steps)


def compute_round_credit(
    test: LossTest, median: float, gate: OwnGate, params: WorkParams, effort: float = 1.0
) -> float:
    """This round's credit: the gain score times the own-data factor times the declared effort
    (compute_effort_factor), zero if the own-data gate fails."""
    if not is_own_gate_passed(test, gate, params):
        return 0.0
    return compute_gain_score(test, median, params) * compute_own_factor(test, gate) * effort


def compute_next_rating(
    previous: Rating, reason: str | None, test: LossTest | None, credit: float, passed_gate: bool, params: WorkParams
) -> Rating:
    alpha = params.score_ema
    seen = previous.seen + 1
    if previous.banned or reason in ("audit-failed", "audit-evidence"):
        return Rating(0.0, -1.0, banned=True, seen=seen, suspect=True)
    if reason is not None or test is None:
        return Rating(0.0, (1 - alpha) * previous.gate - alpha, seen=seen, suspect=True)
    return Rating(
        (1 - alpha) * previous.rating + alpha * credit,
        (1 - alpha) * previous.gate + alpha * (1.0 if passed_gate else -1.0),
        seen=seen,
        suspect=not passed_gate,
    )


def compute_audit_probability(rating: Rating | None, params: WorkParams) -> float:
    """audit_probability, times audit_boost for a hotkey seen in fewer than audit_new_epochs epochs or
    flagged (or failing the own-data gate) in its last one; at most 1."""
    if rating is None or rating.seen < params.audit_new_epochs or rating.suspect:
        return min(1.0, params.audit_probability * params.audit_boost)
    return params.audit_probability


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
    reasons |= {
        s.uid: "banned" for s in order if s.uid not in reasons and state.ratings.get(s.hotkey, Rating()).banned
    }  # no test, no audit
    passed = [s for s in order if s.uid not in reasons]
    tests, audited = compute_loss_tests(inputs, passed, updates, state, headers)
    if not inputs.cross_class_audits:
        audited = {uid: steps for uid, steps in audited.items() if is_exact_replay(inputs, headers[uid])}
    diverged, evidence = {}, []
    for sub in passed:
        if sub.uid in audited:
            ok, audited[sub.uid], diverged[sub.uid], found = compute_audit(
                inputs, sub, headers[sub.uid], audited[sub.uid]
            )
            if not ok:
                reasons[sub.uid] = "audit-failed"
            if found is not None:
                evidence.append(found)
    efforts = {uid: compute_effort_factor(header, params) for uid, header in headers.items()}
    report = compute_report(inputs, state, order, reasons, updates, tests, audited, diverged, efforts)
    return apply_audit_evidence(replace(report, evidence=tuple(evidence)), inputs, inputs.evidence)


def get_audit_runtime(inputs: ScoringInputs, header: UpdateHeader) -> Runtime:
    """The validator's device, run in the precision the miner declared."""
    return replace(inputs.runtime, precision=parse_hardware_class(header.hardware).precision)


def is_exact_replay(inputs: ScoringInputs, header: UpdateHeader) -> bool:
    return is_exact_class(parse_hardware_class(header.hardware), get_audit_runtime(inputs, header).get_class())


def compute_audit(
    inputs: ScoringInputs, sub: Submission, header: UpdateHeader, steps: int
) -> tuple[bool, int, int | None, AuditEvidence | None]:
    """(passed, inner steps replayed, first diverging step, evidence to publish): an exact prefix
    replay within the miner's class (a mismatch is evidence anyone of the class can re-check), a
    tolerance replay from its revealed states across classes."""
    if is_exact_replay(inputs, header):
        if sub.artifact is None:  # stage 1 (compute_decoded) refused it already; audits see revealed ones only
            raise WorkError("not-revealed")
        found = compute_audit_evidence(
            inputs.checkpoint,
            inputs.dataset,
            inputs.seed,
            get_run_params(inputs.params, header),
            sub.uid,
            compute_artifact_id(sub.artifact),
            header,
            steps,
            inputs.runtime,
        )
        return found is None, steps, None if found is None else found.step, found
    reveal = sub.reveal
    if reveal is None and inputs.fetch_reveal is not None:
        try:
            reveal = inputs.fetch_reveal(sub, header)
        except HashgradError:
            return False, 0, None, None  # nothing to replay from: a failed audit (the loader says why)
    verdict = check_cross_class(
        inputs.checkpoint,
        inputs.dataset,
        inputs.seed,
        sub.hotkey,
        get_run_params(inputs.params, header),
        header,
        reveal,
        get_audit_runtime(inputs, header),
    )
    return verdict.passed, verdict.replayed_steps, verdict.first_bad_step, None


def apply_audit_evidence(report: ScoreReport, inputs: ScoringInputs, records: tuple[AuditEvidence, ...]) -> ScoreReport:
    """The report after re-checking others' failed-audit records: each submission a record convicts
    gets reason 'audit-evidence', a zero score and a ban, exactly as if this validator had caught it."""
    by_uid = {s.uid: s for s in inputs.submissions}
    layout = compute_layout(inputs.params.model, inputs.params.chunk_size, inputs.params.topk)
    convicted = set()
    for record in records:
        sub = by_uid.get(record.uid)
        verdict = next((v for v in report.verdicts if v.uid == record.uid), None)
        if (
            sub is None
            or sub.artifact is None
            or verdict is None
            or verdict.reason in ("audit-failed", "audit-evidence")
        ):
            continue
        try:
            header, _ = decode_update(sub.artifact, inputs.params, layout)
        except WorkError:
            continue
        if check_evidence(
            record,
            inputs.checkpoint,
            inputs.dataset,
            inputs.seed,
            get_run_params(inputs.params, header),
            header,
            compute_artifact_id(sub.artifact),
        ):
            convicted.add(record.uid)
    if not convicted:
        return report
    verdicts = tuple(
        replace(v, reason="audit-evidence", score=0.0) if v.uid in convicted else v for v in report.verdicts
    )
    ratings = dict(report.state.ratings) | {
        v.hotkey: Rating(0.0, -1.0, banned=True) for v in verdicts if v.uid in convicted
    }
    weights, weights_u16 = compute_weights({v.uid: v.score for v in verdicts})
    return replace(
        report,
        verdicts=verdicts,
        weights=weights,
        weights_u16=weights_u16,
        state=replace(report.state, ratings=ratings),
    )


def compute_credit_clip(updates: dict[int, torch.Tensor], params: WorkParams) -> float:
    """The norm an update is clipped to for its loss test: the score_clip_quantile of the non-zero
    norms. Above the median, so a miner that did more work than the median one is credited for it;
    a quantile of the epoch's norms, so inflating an update past what others send earns nothing."""
    norms = sorted(n for n in (float(u.norm()) for u in updates.values()) if n > 0)
    if not norms:
        return 0.0
    return norms[min(len(norms) - 1, int(params.score_clip_quantile * len(norms)))]


def compute_loss_tests(
    inputs: ScoringInputs,
    passed: list[Submission],
    updates: dict[int, torch.Tensor],
    state: ValidatorState | None = None,
    headers: dict[int, UpdateHeader] | None = None,
):
    """(uid -> LossTest, uid -> inner steps its audit replays) for the submissions that passed stages 1-2;
    a miner's own windows are drawn from the batches it declared (`headers`; the job's batch without)."""
    params, checkpoint, ratings = inputs.params, inputs.checkpoint, (state or ValidatorState()).ratings
    if not passed:
        return {}, {}
    base_model = checkpoint.build_model().eval()
    window = params.model.block_size + 1
    rand_refs = compute_random_refs(inputs.dataset, params, inputs.seed, inputs.salt, [s.hotkey for s in passed])
    rand = compute_windows(inputs.dataset, rand_refs, window)
    rand_before = compute_batched_loss(base_model, rand)
    clip = compute_credit_clip(updates, params)
    tests = {}
    for sub in passed:
        run_params = params if headers is None else get_run_params(params, headers[sub.uid])
        own_refs = compute_own_refs(inputs.dataset, run_params, inputs.seed, inputs.salt, sub.hotkey)
        own = compute_windows(inputs.dataset, own_refs, window)
        tests[sub.uid] = compute_loss_test(
            checkpoint,
            compute_clipped(updates[sub.uid], clip),
            params,
            own,
            compute_batched_loss(base_model, own),
            rand,
            rand_before,
            [p for p, _ in own_refs],
            [p for p, _ in rand_refs],
        )
    runs = {s.uid: params if headers is None else get_run_params(params, headers[s.uid]) for s in passed}
    audited = {
        s.uid: compute_audit_steps(inputs.seed, inputs.salt, s.hotkey, runs[s.uid])
        for s in passed
        if is_audited(inputs.seed, inputs.salt, s.hotkey, compute_audit_probability(ratings.get(s.hotkey), params))
    }
    audited |= {s.uid: runs[s.uid].inner_steps for s in passed if s.hotkey in inputs.forced_audits}
    return tests, audited


def compute_report(inputs, state, order, reasons, updates, tests, audited, diverged, efforts) -> ScoreReport:
    ratings = dict(state.ratings)
    verdicts, scores = [], {}
    median, gate = compute_median_gain(tests), compute_own_gate(tests, inputs.params)
    for sub in order:
        reason, test = reasons.get(sub.uid), tests.get(sub.uid)
        previous = ratings.get(sub.hotkey, Rating())
        if previous.banned and reason is None:
            reason = "banned"
        passed_gate = test is not None and is_own_gate_passed(test, gate, inputs.params)
        credit = 0.0 if test is None else compute_round_credit(test, median, gate, inputs.params, efforts[sub.uid])
        rating = compute_next_rating(previous, reason, test, credit, passed_gate, inputs.params)
        ratings[sub.hotkey] = rating
        score = rating.rating if reason is None and passed_gate else 0.0
        scores[sub.uid] = score
        norm = float(updates[sub.uid].norm()) if sub.uid in updates else 0.0
        verdicts.append(
            Verdict(
                sub.uid,
                sub.hotkey,
                reason,
                norm,
                test,
                sub.uid in audited,
                score,
                audited.get(sub.uid, 0),
                diverged.get(sub.uid),
            )
        )
    weights, weights_u16 = compute_weights(scores)
    return ScoreReport(tuple(verdicts), weights, weights_u16, replace(state, ratings=ratings), updates)
