"""The validator's loss test and replay audit, and the held-out loss everyone reports.

Loss test (Templar's Gauntlet, made re-checkable): apply the miner's median-norm-clipped update to
the checkpoint and measure the relative loss improvement on
  - a secret sample of the miner's *own* windows (drawn from the epoch seed and the validator's
    salt, which is committed before the reveal and disclosed after scoring), and
  - shared random windows drawn from pages no scored miner was assigned (also salted).
Honest work helps its own windows more than random ones; a copy, noise or a partial job does not.
The random-window improvement must clear z standard errors, and the own-window improvement must
exceed the random one by gate_z standard errors (Templar's own-vs-random test): a miner that
trained on other pages than its own gets no credit for the round. Standard errors are clustered
by page: windows of one page share a topic, so per-window spreads understate the noise. The
number of random windows is chosen by variance: the validator starts with eval_rand_windows of
its shared sample and doubles it, up to eval_rand_max, until the standard error of the random
gain is below eval_rel_stderr of the gain, so late-epoch differences stay measurable.

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

from hashgrad.work.data import (
    Dataset,
    WindowRef,
    compute_assigned_pages,
    compute_batch_order,
    compute_window_refs,
    compute_windows,
)
from hashgrad.work.hardware import CPU_FP32, Runtime
from hashgrad.work.hashing import HashStream, compute_sample, compute_seed, compute_tagged_hash
from hashgrad.work.miner import compute_pseudo_gradient, compute_training
from hashgrad.work.model import Checkpoint, TrainableModel, compute_flat, compute_loss, compute_unflat
from hashgrad.work.params import WorkParams
from hashgrad.work.update import UpdateHeader, compute_delta_hash, compute_milestone_steps

TAG_AUDIT = "hashgrad/work/audit"
TAG_AUDIT_DEPTH = "hashgrad/work/audit-depth"
EVAL_BATCH = 64


@dataclass(frozen=True)
class LossTest:
    s_own: float  # relative loss improvement on the miner's own (trained) windows
    s_rand: float  # relative loss improvement on the shared random windows
    rand_stderr: float  # standard error of s_rand (clustered by page)
    diff_stderr: float  # standard error of s_own - s_rand (clustered by page)
    z: float
    gate_z: float
    rand_windows: int = 0  # random windows the test used (chosen by variance)

    @property
    def significant(self) -> bool:
        """The random-data gain is above the evaluation noise."""
        return self.s_rand > self.z * self.rand_stderr

    @property
    def excess(self) -> float:
        """How much more the update helps the miner's own windows than random ones."""
        return self.s_own - self.s_rand

    @property
    def fits_own_data(self) -> bool:
        """Significantly better on its own windows than on random ones (Templar's own-vs-random test)."""
        return self.excess > self.gate_z * self.diff_stderr


def compute_batched_loss(model: TrainableModel, windows: torch.Tensor) -> torch.Tensor:
    return torch.cat([compute_loss(model, windows[i : i + EVAL_BATCH]) for i in range(0, len(windows), EVAL_BATCH)])


def compute_own_windows(dataset: Dataset, params: WorkParams, seed: bytes, salt: bytes, hotkey: bytes) -> torch.Tensor:
    """A salted sample of the windows the miner's H steps were supposed to train on."""
    refs = compute_own_refs(dataset, params, seed, salt, hotkey)
    return compute_windows(dataset, refs, params.model.block_size + 1)


def compute_own_refs(dataset: Dataset, params: WorkParams, seed: bytes, salt: bytes, hotkey: bytes) -> list[WindowRef]:
    """(page, window) of compute_own_windows' sample, in order."""
    pages = compute_assigned_pages(seed, hotkey, params.pages_per_miner, dataset.train_pages)
    refs = compute_window_refs(pages, params.windows_per_page)
    if params.inner_steps * params.batch_size < len(refs):  # less than one pass: only the windows drawn
        order = compute_batch_order(seed, hotkey, pages, params.windows_per_page, params.inner_steps, params.batch_size)
        refs = [ref for batch in order for ref in batch]
    refs = sorted(set(refs))
    key = compute_seed(seed, "eval-own", salt, hotkey)
    picked = compute_sample(key, len(refs), min(params.eval_own_windows, len(refs)))
    return [refs[i] for i in sorted(picked)]


def compute_random_windows(
    dataset: Dataset, params: WorkParams, seed: bytes, salt: bytes, hotkeys: list[bytes]
) -> torch.Tensor:
    """Shared random windows from train pages assigned to none of the scored hotkeys."""
    return compute_windows(
        dataset, compute_random_refs(dataset, params, seed, salt, hotkeys), params.model.block_size + 1
    )


def compute_random_refs(
    dataset: Dataset, params: WorkParams, seed: bytes, salt: bytes, hotkeys: list[bytes]
) -> list[WindowRef]:
    """(page, window) of the shared random sample: eval_rand_max windows in draw order, so that any
    prefix is itself a uniform sample (the loss test uses as long a prefix as its variance needs)."""
    taken = {p for hk in hotkeys for p in compute_assigned_pages(seed, hk, params.pages_per_miner, dataset.train_pages)}
    free = [p for p in dataset.train_pages if p not in taken] or dataset.train_pages
    per_page = params.windows_per_page  # index i stands for window i % per_page of page free[i // per_page]
    total = len(free) * per_page
    picked = compute_sample(compute_seed(seed, "eval-rand", salt), total, min(params.eval_rand_max, total))
    return [(free[i // per_page], i % per_page) for i in picked]


def compute_applied_model(checkpoint: Checkpoint, update: torch.Tensor, scale: float) -> TrainableModel:
    state = compute_unflat(compute_flat(checkpoint.state) - scale * update, checkpoint.config)
    return Checkpoint(checkpoint.config, state).build_model().eval()


def compute_relative_gain(before: torch.Tensor, after: torch.Tensor) -> float:
    return float((before.mean() - after.mean()) / before.mean())


def compute_stderr(gains: torch.Tensor, scale: float, clusters: list[int] | None = None) -> float:
    """Standard error of the mean gain / scale, clustered (cluster-robust, with the G/(G-1) small-sample
    factor) when `clusters` gives each gain's page; each gain is its own cluster otherwise."""
    if len(gains) < 2:
        return 0.0
    if clusters is None:
        return float(gains.std()) / math.sqrt(len(gains)) / scale
    centred = (gains - gains.mean()).tolist()
    sums: dict[int, float] = {}
    for value, cluster in zip(centred, clusters):
        sums[cluster] = sums.get(cluster, 0.0) + value
    if len(sums) < 2:
        return float("inf")  # one page cannot tell its topic from the update's effect
    variance = sum(v * v for v in sums.values()) * len(sums) / (len(sums) - 1)
    return math.sqrt(variance) / len(gains) / scale


def compute_rand_prefix(
    model: TrainableModel, rand: torch.Tensor, rand_before: torch.Tensor, pages: list[int] | None, params: WorkParams
) -> tuple[float, float, int]:
    """(s_rand, its standard error, windows used) on the shortest prefix of the shared random sample,
    from eval_rand_windows doubling to all of it, whose standard error is within eval_rel_stderr of the gain."""
    count, after = min(params.eval_rand_windows, len(rand)), torch.empty(0)
    while True:
        after = torch.cat([after, compute_batched_loss(model, rand[len(after) : count])])
        before = rand_before[:count]
        gain = compute_relative_gain(before, after)
        stderr = compute_stderr(before - after, float(before.mean()), None if pages is None else pages[:count])
        if count >= len(rand) or stderr <= params.eval_rel_stderr * abs(gain):
            return gain, stderr, count
        count = min(2 * count, len(rand))


def compute_loss_test(
    checkpoint: Checkpoint,
    update: torch.Tensor,
    params: WorkParams,
    own: torch.Tensor,
    own_before: torch.Tensor,
    rand: torch.Tensor,
    rand_before: torch.Tensor,
    own_pages: list[int] | None = None,
    rand_pages: list[int] | None = None,
) -> LossTest:
    """The loss test of one update; `own_pages` / `rand_pages` (each window's page) cluster the errors."""
    model = compute_applied_model(checkpoint, update, params.outer_lr)
    own_after = compute_batched_loss(model, own)
    s_rand, rand_se, used = compute_rand_prefix(model, rand, rand_before, rand_pages, params)
    own_se = compute_stderr(own_before - own_after, float(own_before.mean()), own_pages)
    return LossTest(
        compute_relative_gain(own_before, own_after),
        s_rand,
        rand_se,
        math.hypot(rand_se, own_se),
        params.eval_z,
        params.gate_z,
        used,
    )


def is_audited(seed: bytes, salt: bytes, hotkey: bytes, probability: float) -> bool:
    """Whether this validator replays this miner this epoch (unpredictable until the salt is out)."""
    draw = int.from_bytes(compute_tagged_hash(TAG_AUDIT, seed + salt + hotkey)[:8], "little") / 2.0**64
    return draw < probability


def is_replay_exact(
    checkpoint: Checkpoint, dataset: Dataset, seed: bytes, hotkey: bytes, params: WorkParams, delta_hash: bytes
) -> bool:
    """Re-run the miner's H steps; True iff the pseudo-gradient hashes to what it declared."""
    return compute_delta_hash(compute_pseudo_gradient(checkpoint, dataset, seed, hotkey, params)) == delta_hash


def compute_audit_steps(seed: bytes, salt: bytes, hotkey: bytes, params: WorkParams) -> int:
    """How many inner steps an audit of this miner replays: one of its milestones or H, uniformly."""
    choices = compute_milestone_steps(params) + (params.inner_steps,)
    return choices[HashStream(compute_tagged_hash(TAG_AUDIT_DEPTH, seed + salt + hotkey)).next_below(len(choices))]


def is_prefix_exact(
    checkpoint: Checkpoint,
    dataset: Dataset,
    seed: bytes,
    hotkey: bytes,
    params: WorkParams,
    header: UpdateHeader,
    steps: int,
    runtime: Runtime = CPU_FP32,
) -> bool:
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
    windows = compute_windows(
        dataset, compute_window_refs(dataset.heldout_pages, dataset.page_tokens // window), window
    )
    if len(windows) > max_windows:
        windows = windows[torch.linspace(0, len(windows) - 1, max_windows).long()]
    return float(compute_batched_loss(checkpoint.build_model().eval(), windows).mean())
