"""The validator's loss test and replay audit, and the held-out loss everyone reports.

Loss test (Templar's Gauntlet, made re-checkable): apply the miner's median-norm-clipped update to
the checkpoint and measure the relative loss improvement on
  - a secret sample of the miner's *own* windows (drawn from the epoch seed and the validator's
    salt, which is committed before the reveal and disclosed after scoring), and
  - shared random windows drawn from pages no scored miner was assigned (also salted).
Honest work helps its own windows more than random ones; a copy, noise or a partial job does not.
The random-window improvement must clear z standard errors of its per-window spread, and the
own-window improvement must not fall significantly below the random one.

Replay audit (Proof-of-Learning, exact within a CPU hardware class; across classes see
work.crossclass): re-run a prefix of the miner's H inner steps, up to
one of its declared milestones drawn from the epoch seed and the validator's salt (so the miner
cannot know which), and compare the weight hashes bit for bit; the last milestone is the whole run,
checked against the declared pseudo-gradient hash. A miner that skipped the steps after step k is
caught whenever the drawn milestone lies beyond k, and the average audit costs about half a run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from hashgrad.work.data import (Dataset, compute_assigned_pages, compute_batch_order, compute_window_refs,
                                compute_windows)
from hashgrad.work.hardware import CPU_FP32, Runtime
from hashgrad.work.hashing import HashStream, compute_sample, compute_seed, compute_tagged_hash
from hashgrad.work.miner import compute_pseudo_gradient, compute_training
from hashgrad.work.model import GPT, Checkpoint, compute_flat, compute_loss, compute_unflat
from hashgrad.work.params import WorkParams
from hashgrad.work.update import UpdateHeader, compute_delta_hash, compute_milestone_steps

TAG_AUDIT = "hashgrad/work/audit"
TAG_AUDIT_DEPTH = "hashgrad/work/audit-depth"
EVAL_BATCH = 64


@dataclass(frozen=True)
class LossTest:
    s_own: float  # relative loss improvement on the miner's own (trained) windows
    s_rand: float  # relative loss improvement on the shared random windows
    rand_stderr: float  # standard error of s_rand (from the per-window spread)
    diff_stderr: float  # standard error of s_own - s_rand
    z: float
    gate_z: float

    @property
    def significant(self) -> bool:
        """The random-data gain is above the evaluation noise."""
        return self.s_rand > self.z * self.rand_stderr

    @property
    def fits_own_data(self) -> bool:
        """Not significantly worse on its own windows than on random ones (honest work never is)."""
        return self.s_own - self.s_rand > -self.gate_z * self.diff_stderr


def compute_batched_loss(model: GPT, windows: torch.Tensor) -> torch.Tensor:
    return torch.cat([compute_loss(model, windows[i : i + EVAL_BATCH]) for i in range(0, len(windows), EVAL_BATCH)])


def compute_own_windows(dataset: Dataset, params: WorkParams, seed: bytes, salt: bytes, hotkey: bytes) -> torch.Tensor:
    """A salted sample of the windows the miner's H steps were supposed to train on."""
    pages = compute_assigned_pages(seed, hotkey, params.pages_per_miner, dataset.train_pages)
    refs = compute_window_refs(pages, params.windows_per_page)
    if params.inner_steps * params.batch_size < len(refs):  # less than one pass: only the windows drawn
        order = compute_batch_order(seed, hotkey, pages, params.windows_per_page, params.inner_steps, params.batch_size)
        refs = {ref for batch in order for ref in batch}
    refs = sorted(set(refs))
    key = compute_seed(seed, "eval-own", salt, hotkey)
    picked = compute_sample(key, len(refs), min(params.eval_own_windows, len(refs)))
    return compute_windows(dataset, [refs[i] for i in sorted(picked)], params.model.block_size + 1)


def compute_random_windows(dataset: Dataset, params: WorkParams, seed: bytes, salt: bytes,
                           hotkeys: list[bytes]) -> torch.Tensor:
    """Shared random windows from train pages assigned to none of the scored hotkeys."""
    taken = {p for hk in hotkeys for p in compute_assigned_pages(seed, hk, params.pages_per_miner, dataset.train_pages)}
    free = [p for p in dataset.train_pages if p not in taken] or dataset.train_pages
    per_page = params.windows_per_page  # index i stands for window i % per_page of page free[i // per_page]
    total = len(free) * per_page
    picked = compute_sample(compute_seed(seed, "eval-rand", salt), total, min(params.eval_rand_windows, total))
    return compute_windows(dataset, [(free[i // per_page], i % per_page) for i in sorted(picked)],
                           params.model.block_size + 1)


def compute_applied_model(checkpoint: Checkpoint, update: torch.Tensor, scale: float) -> GPT:
    state = compute_unflat(compute_flat(checkpoint.state) - scale * update, checkpoint.config)
    return Checkpoint(checkpoint.config, state).build_model().eval()


def compute_relative_gain(before: torch.Tensor, after: torch.Tensor) -> float:
    return float((before.mean() - after.mean()) / before.mean())


def compute_stderr(gains: torch.Tensor, scale: float) -> float:
    return float(gains.std()) / math.sqrt(len(gains)) / scale if len(gains) > 1 else 0.0


def compute_loss_test(checkpoint: Checkpoint, update: torch.Tensor, params: WorkParams, own: torch.Tensor,
                      own_before: torch.Tensor, rand: torch.Tensor, rand_before: torch.Tensor) -> LossTest:
    model = compute_applied_model(checkpoint, update, params.outer_lr)
    own_after, rand_after = compute_batched_loss(model, own), compute_batched_loss(model, rand)
    rand_se = compute_stderr(rand_before - rand_after, float(rand_before.mean()))
    own_se = compute_stderr(own_before - own_after, float(own_before.mean()))
    return LossTest(compute_relative_gain(own_before, own_after), compute_relative_gain(rand_before, rand_after),
                    rand_se, math.hypot(rand_se, own_se), params.eval_z, params.gate_z)


def is_audited(seed: bytes, salt: bytes, hotkey: bytes, probability: float) -> bool:
    """Whether this validator replays this miner this epoch (unpredictable until the salt is out)."""
    draw = int.from_bytes(compute_tagged_hash(TAG_AUDIT, seed + salt + hotkey)[:8], "little") / 2.0**64
    return draw < probability


def is_replay_exact(checkpoint: Checkpoint, dataset: Dataset, seed: bytes, hotkey: bytes,
                    params: WorkParams, delta_hash: bytes) -> bool:
    """Re-run the miner's H steps; True iff the pseudo-gradient hashes to what it declared."""
    return compute_delta_hash(compute_pseudo_gradient(checkpoint, dataset, seed, hotkey, params)) == delta_hash


def compute_audit_steps(seed: bytes, salt: bytes, hotkey: bytes, params: WorkParams) -> int:
    """How many inner steps an audit of this miner replays: one of its milestones or H, uniformly."""
    choices = compute_milestone_steps(params) + (params.inner_steps,)
    return choices[HashStream(compute_tagged_hash(TAG_AUDIT_DEPTH, seed + salt + hotkey)).next_below(len(choices))]


def is_prefix_exact(checkpoint: Checkpoint, dataset: Dataset, seed: bytes, hotkey: bytes, params: WorkParams,
                    header: UpdateHeader, steps: int, runtime: Runtime = CPU_FP32) -> bool:
    """Re-run the first `steps` inner steps; True iff every milestone reached (and, for a whole run,
    the pseudo-gradient) hashes to what the header declares. Only meaningful within the miner's
    hardware class (scoring.compute_audit picks this or a cross-class audit)."""
    delta, milestones = compute_training(checkpoint, dataset, seed, hotkey, params, steps=steps, runtime=runtime)
    if milestones != header.milestones[: len(milestones)]:
        return False
    return steps < params.inner_steps or compute_delta_hash(delta) == header.delta_hash


def compute_heldout_loss(checkpoint: Checkpoint, dataset: Dataset, max_windows: int = 512) -> float:
    """Mean next-byte loss (nats) over up to max_windows windows spread evenly over the held-out pages."""
    window = checkpoint.config.block_size + 1
    windows = compute_windows(dataset, compute_window_refs(dataset.heldout_pages, dataset.page_tokens // window), window)
    if len(windows) > max_windows:
        windows = windows[torch.linspace(0, len(windows) - 1, max_windows).long()]
    return float(compute_batched_loss(checkpoint.build_model().eval(), windows).mean())
