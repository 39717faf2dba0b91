"""Miners that do a graded share of the job, for measuring whether reward follows work.

    steps  f   runs round(f*H) of the H inner steps, sends that (smaller) pseudo-gradient as is and
               declares those steps in its update header (audits replay them)
    batch  f   runs the H steps on batches of round(f*B) windows instead of B, and declares that batch
               in its update header (as the protocol lets it: audits replay the declared batch)
    data   f   runs the H steps, but only a share f of its assigned pages hold their own bytes: the
               rest are swapped for other training pages (a miner that trains on what it likes)

None of them inflates its update: each sends the true result of the work it did, with the
milestones that work reached. Steps and batch are declared, as the protocol lets a miner do; the
data miner hides what it did (an audit of it fails).
At f = 1 each is exactly the honest miner. bench/bench_fidelity.py grades 2 miners at each of
25/50/75/100 % along each axis and measures the rank correlation of effort and reward.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from hashgrad.errors import WorkError
from hashgrad.work.adversaries import MinerContext
from hashgrad.work.compress import apply_error_feedback, compute_layout
from hashgrad.work.data import Dataset, compute_assigned_pages
from hashgrad.work.hashing import compute_sample, compute_seed
from hashgrad.work.miner import MinerOutput, TrainingRun, build_update, compute_training_run
from hashgrad.work.model import compute_flat
from hashgrad.work.params import WorkParams
from hashgrad.work.reveal import compute_reveal_package, encode_reveal
from hashgrad.work.update import compute_delta_hash

AXES = ("steps", "batch", "data")


@dataclass(frozen=True)
class Effort:
    axis: str  # one of AXES
    fraction: float  # in (0, 1]

    def check(self) -> Effort:
        if self.axis not in AXES or not 0 < self.fraction <= 1:
            raise WorkError("bad-effort", f"{self.axis} {self.fraction}: axis in {AXES}, fraction in (0, 1]")
        return self


def compute_unfaithful_dataset(ctx: MinerContext, fraction: float) -> Dataset:
    """The dataset as a miner that keeps only `fraction` of its assigned pages sees it: the other
    assigned pages hold the bytes of training pages it was not assigned (drawn from its seed)."""
    params, dataset = ctx.params, ctx.dataset
    assigned = compute_assigned_pages(ctx.seed, ctx.hotkey, params.pages_per_miner, dataset.train_pages)
    swapped = len(assigned) - round(fraction * len(assigned))
    if swapped == 0:
        return dataset
    others = [p for p in dataset.train_pages if p not in set(assigned)]
    victims = compute_sample(compute_seed(ctx.seed, "graded-victims", ctx.hotkey), len(assigned), swapped)
    sources = compute_sample(compute_seed(ctx.seed, "graded-sources", ctx.hotkey), len(others), swapped)
    pages = np.array(dataset.pages, copy=True)
    for v, s in zip(victims, sources):
        pages[assigned[v]] = dataset.pages[others[s]]
    return Dataset(dataset.manifest, pages)


def compute_declared_params(params: WorkParams, effort: Effort) -> WorkParams:
    """The job's params at the batch and steps the graded miner really runs, and so declares."""
    if effort.axis == "batch":
        return replace(params, batch_size=max(1, round(effort.fraction * params.batch_size)))
    if effort.axis == "steps":
        return replace(params, inner_steps=max(1, round(effort.fraction * params.inner_steps)))
    return params


def compute_graded_training(ctx: MinerContext, effort: Effort) -> tuple[torch.Tensor, tuple[bytes, ...], TrainingRun]:
    """(pseudo-gradient, milestones, run) of the graded run: the milestones of the steps it ran."""
    effort = effort.check()
    params = compute_declared_params(ctx.params, effort)
    dataset = compute_unfaithful_dataset(ctx, effort.fraction) if effort.axis == "data" else ctx.dataset
    run = compute_training_run(ctx.checkpoint, dataset, ctx.seed, ctx.hotkey, params)
    return compute_flat(ctx.checkpoint.state) - run.end.params, run.milestones, run


def compute_graded_output(ctx: MinerContext, effort: Effort) -> MinerOutput:
    """The graded miner's artifact and reveal (the states it reached), built exactly as an honest
    miner builds its own."""
    params = compute_declared_params(ctx.params, effort.check())  # the header declares what it ran
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    delta, milestones, run = compute_graded_training(ctx, effort)
    ef = torch.zeros(layout.num_params) if ctx.ef is None else ctx.ef
    payload, ef_next = apply_error_feedback(ef, delta, layout, params.quant_bins, params.ef_decay)
    reveal = compute_reveal_package(encode_reveal(delta, run.states))
    artifact, artifact_id, commitment = build_update(
        params,
        ctx.epoch,
        ctx.base_hash,
        ctx.hotkey,
        compute_delta_hash(delta),
        payload,
        layout,
        milestones=milestones,
        reveal=reveal,
    )
    return MinerOutput(artifact, artifact_id, commitment, ef_next, delta, run.states, reveal)
