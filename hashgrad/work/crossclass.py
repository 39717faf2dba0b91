"""Audits across hardware classes: tolerance replay from revealed milestone states, and bisection.

A validator whose hardware class differs from the miner's (another CPU kernel, a GPU, a Mac, a
data-parallel miner) cannot reproduce the miner's bits, so it replays within a tolerance, as
Proof-of-Learning does (Jia et al., 2021), and narrows a dispute to the first diverging
milestone, as Gensyn's Verde does:

    drift(replayed, claimed, moved) = ||replayed − claimed|| / ||moved||     (weights only)

1. Audit (`check_cross_class`): the miner reveals its dense Δ and its milestone states (weights and
   AdamW moments), each checked against the hashes its update committed (delta_hash, milestones).
   The validator replays the whole run from the checkpoint on its own hardware, in the precision
   the miner declared, and accepts when drift(θ_replay, θ_0 − Δ, θ_0 − θ_replay) is within the
   job's threshold for that precision (`WorkParams.drift_thresholds`: DRIFT_MARGIN x the worst
   honest drift between classes that bench/bench_portability.py measured).
2. Dispute (`compute_first_divergence`): bisection over the milestones. The start (the checkpoint)
   is agreed and the end is disputed; at the middle milestone the validator replays from the last
   agreed revealed state to the middle one and compares with the revealed middle state (drift
   relative to what its replay moved). Within the threshold: agreed, look later; beyond: look
   earlier. It ends at a segment [lo, hi] that fails on its own, and the verdict names step hi.

Only weights enter a distance; the AdamW moments are revealed so that a segment can be resumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from hashgrad.errors import WorkError
from hashgrad.work.data import Dataset
from hashgrad.work.hardware import Runtime
from hashgrad.work.miner import (
    InnerState,
    TrainingRun,
    compute_batches,
    compute_initial_inner_state,
    compute_inner_state_hash,
    compute_segment,
)
from hashgrad.work.model import Checkpoint, decode_safetensors
from hashgrad.work.params import WorkParams
from hashgrad.work.reveal import REVEAL_FORMAT, STATE_PARTS
from hashgrad.work.update import UpdateHeader, compute_delta_hash, compute_milestone_steps

DRIFT_MARGIN = 40.0  # threshold >= DRIFT_MARGIN x the worst honest drift measured between classes (room for GPUs)


@dataclass(frozen=True)
class Reveal:
    """What a miner discloses when audited across classes (checked against its update's hashes)."""

    delta: torch.Tensor
    states: dict[int, InnerState]  # milestone step -> state


@dataclass(frozen=True)
class CrossClassVerdict:
    passed: bool
    drift: float  # of the whole run
    threshold: float
    reason: str | None = None  # None, "reveal-mismatch", "drift-exceeded"
    first_bad_step: int | None = None  # the end of the first diverging segment (bisection), when failed
    replayed_steps: int = 0


def check_vector(tensor: torch.Tensor, num_params: int, name: str) -> torch.Tensor:
    if tensor.dtype != torch.float32 or tuple(tensor.shape) != (num_params,):
        raise WorkError("bad-reveal", f"{name} must be float32 of {num_params} values")
    if not bool(torch.isfinite(tensor).all()):
        raise WorkError("bad-reveal", f"{name} holds non-finite values")
    return tensor


def decode_reveal(data: bytes, header: UpdateHeader, params: WorkParams) -> Reveal:
    """A miner's reveal, checked against its update header: sizes, dtypes, and every hash."""
    raw, tensors = decode_safetensors(data, params.max_reveal_bytes, REVEAL_FORMAT)
    marks = compute_milestone_steps(params)
    steps = raw.get("steps")
    if set(raw) != {"format", "steps"} or not isinstance(steps, list) or steps != list(marks):
        raise WorkError("bad-reveal", f"a reveal holds the states of steps {list(marks)}")
    if set(tensors) != {"delta"} | {f"s{s}.{p}" for s in marks for p in STATE_PARTS}:
        raise WorkError("bad-reveal", "unexpected tensor names")
    delta = check_vector(tensors["delta"], header.num_params, "delta")
    if compute_delta_hash(delta) != header.delta_hash:
        raise WorkError("reveal-mismatch", "the revealed Δ does not hash to the update's delta_hash")
    states = {}
    for index, step in enumerate(marks):
        state = InnerState(
            step, *(check_vector(tensors[f"s{step}.{p}"], header.num_params, f"s{step}.{p}") for p in STATE_PARTS)
        )
        if compute_inner_state_hash(state) != header.milestones[index]:
            raise WorkError("reveal-mismatch", f"the state revealed for step {step} does not match its milestone hash")
        states[step] = state
    return Reveal(delta, states)


def compute_drift(replayed: torch.Tensor, claimed: torch.Tensor, moved: torch.Tensor) -> float:
    """||replayed − claimed|| / ||moved||; infinite when the replay did not move but the claim differs."""
    distance, scale = float((replayed - claimed).norm()), float(moved.norm())
    if scale > 0:
        return distance / scale
    return 0.0 if distance == 0 else math.inf


def compute_replay(
    checkpoint: Checkpoint,
    dataset: Dataset,
    batches: list,
    params: WorkParams,
    start: InnerState,
    stop: int,
    runtime: Runtime,
) -> TrainingRun:
    return compute_segment(checkpoint, dataset, batches, params, start, stop, runtime)


def compute_run_drift(
    checkpoint: Checkpoint,
    dataset: Dataset,
    seed: bytes,
    hotkey: bytes,
    params: WorkParams,
    delta: torch.Tensor,
    runtime: Runtime,
) -> float:
    """The whole-run drift between this hardware's replay and a claimed pseudo-gradient."""
    start = compute_initial_inner_state(checkpoint)
    end = compute_replay(
        checkpoint, dataset, compute_batches(dataset, seed, hotkey, params), params, start, params.inner_steps, runtime
    ).end.params
    return compute_drift(end, start.params - delta, start.params - end)


def compute_first_divergence(
    checkpoint: Checkpoint,
    dataset: Dataset,
    seed: bytes,
    hotkey: bytes,
    params: WorkParams,
    reveal: Reveal,
    runtime: Runtime,
    threshold: float,
) -> tuple[int, int]:
    """(the step that ends the first diverging segment, inner steps replayed): bisection over the
    milestones, between the agreed start and the disputed end (see the module docstring)."""
    batches = compute_batches(dataset, seed, hotkey, params)
    initial = compute_initial_inner_state(checkpoint)
    end = InnerState(params.inner_steps, initial.params - reveal.delta, initial.exp_avg, initial.exp_avg_sq)
    points = [initial] + [reveal.states[s] for s in compute_milestone_steps(params)] + [end]
    lo, hi, replayed = 0, len(points) - 1, 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        run = compute_replay(checkpoint, dataset, batches, params, points[lo], points[mid].step, runtime)
        replayed += points[mid].step - points[lo].step
        if compute_drift(run.end.params, points[mid].params, run.end.params - points[lo].params) <= threshold:
            lo = mid
        else:
            hi = mid
    return points[hi].step, replayed


def check_cross_class(
    checkpoint: Checkpoint,
    dataset: Dataset,
    seed: bytes,
    hotkey: bytes,
    params: WorkParams,
    header: UpdateHeader,
    reveal_bytes: bytes | None,
    runtime: Runtime,
) -> CrossClassVerdict:
    """The audit of an update from another hardware class (see the module docstring). `runtime` is
    the validator's device, run in the precision the miner declared."""
    threshold = params.get_drift_threshold(runtime.precision)
    try:
        if reveal_bytes is None:
            raise WorkError("reveal-mismatch", "the miner revealed nothing")
        reveal = decode_reveal(reveal_bytes, header, params)
    except WorkError as exc:
        return CrossClassVerdict(
            False, math.inf, threshold, exc.reason if exc.reason == "reveal-mismatch" else "bad-reveal"
        )
    drift = compute_run_drift(checkpoint, dataset, seed, hotkey, params, reveal.delta, runtime)
    if drift <= threshold:
        return CrossClassVerdict(True, drift, threshold, replayed_steps=params.inner_steps)
    step, replayed = compute_first_divergence(checkpoint, dataset, seed, hotkey, params, reveal, runtime, threshold)
    return CrossClassVerdict(False, drift, threshold, "drift-exceeded", step, params.inner_steps + replayed)
