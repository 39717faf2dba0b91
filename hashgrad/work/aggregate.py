"""Aggregation: the next checkpoint from the previous one and the epoch's weighted updates. Pure.

    accepted = top_g updates by consensus weight, weight >= accept_fraction x the best
    if len(accepted) < quorum: the checkpoint does not move (the epoch is skipped)
    clip every accepted update to the median norm of *all* non-zero submissions
    the outer gradient g, by `params.outer_optimizer`:
      sparseloco  g = Σ w_i·clip(u_i) / Σ w_i·[u_i ≠ 0] per coordinate (sparse mean, Templar's
                  scatter-mean); θ_next = θ − outer_lr · g; the miners' error feedback is the memory
      nesterov    g = Σ w_i·clip(u_i) / Σ w_i (dense mean, DiLoCo);
                  m_next = μ·m + g;  θ_next = θ − outer_lr · (g + μ·m_next)
      average     g = Σ w_i·clip(u_i) / Σ w_i;  θ_next = θ − outer_lr · g
    (`outer_momentum` > 0 with sparseloco keeps the older sparse-mean-plus-Nesterov step)

The momentum buffer m travels inside the checkpoint (format v2), so the next checkpoint is still a
pure function of the previous checkpoint, the accepted updates and their consensus weights.

Every node computes this in the same order (updates sorted by artifact id, float32, one thread),
so the result is bit-identical on nodes of the same platform and its sha256 — `checkpoint_hash`
of the canonical bytes — is what goes on chain.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from hashgrad.errors import WorkError
from hashgrad.work.model import Checkpoint, checkpoint_hash, compute_flat, compute_unflat, encode_checkpoint
from hashgrad.work.params import WorkParams
from hashgrad.work.scoring import compute_clipped, compute_median

U16_MAX = 65535


def compute_update_weight(incentive_u16: int) -> float:
    """The aggregation weight of an update: its miner's consensus incentive as the chain stores it
    (u16, from chain.job_epoch.compute_incentive_u16), used by the validator role and the swarm."""
    return incentive_u16 / U16_MAX


@dataclass(frozen=True)
class WeightedUpdate:
    artifact_id: bytes
    update: torch.Tensor  # dense float32, decoded from the artifact
    weight: float  # consensus weight (0 for a rejected or unrewarded submission)


@dataclass(frozen=True)
class AggregateResult:
    checkpoint: Checkpoint
    checkpoint_bytes: bytes
    checkpoint_hash: bytes
    accepted: tuple[bytes, ...]  # artifact ids that moved the model, in application order
    step: torch.Tensor  # the applied global update (θ_prev − θ_next), kept for replay detection


def compute_accepted(updates: list[WeightedUpdate], params: WorkParams) -> list[WeightedUpdate]:
    ranked = sorted((u for u in updates if u.weight > 0), key=lambda u: (-u.weight, u.artifact_id))[: params.top_g]
    if not ranked:
        return []
    floor = params.accept_fraction * ranked[0].weight
    return sorted((u for u in ranked if u.weight >= floor), key=lambda u: u.artifact_id)


def compute_round_selection(consensus: dict[int, float], passed: list[int], params: WorkParams) -> frozenset[int]:
    """Who a round aggregates, by rules anyone can check: the uids that passed the public checks
    and hold incentive in the last epoch's consensus (the top_g of them). Before any consensus (the
    first epoch) every passing uid is aggregated. Any positive incentive counts, not a fraction of
    the best: validators score superlinearly and only a share of the rounds, so a fraction rule
    dropped honest miners (bench: 5 of 8 aggregated after one epoch)."""
    if not consensus:
        return frozenset(sorted(passed)[: params.top_g])
    ranked = sorted((uid for uid in passed if consensus.get(uid, 0.0) > 0), key=lambda uid: (-consensus[uid], uid))
    return frozenset(ranked[: params.top_g])


def compute_selection_consensus(history: list[dict[int, float]], params: WorkParams) -> dict[int, float]:
    """uid -> its incentive summed over the last `selection_epochs` epochs' consensus (oldest first in
    `history`), for compute_round_selection. Pure: every node derives it from the chain's incentive."""
    summed: dict[int, float] = {}
    for consensus in history[-params.selection_epochs :]:
        for uid, weight in consensus.items():
            summed[uid] = summed.get(uid, 0.0) + weight
    return dict(sorted(summed.items()))


def compute_sparse_mean(accepted: list[WeightedUpdate], clip: float) -> torch.Tensor:
    """Per coordinate, the weighted mean over the updates that sent it (zero where none did).

    Sparse updates rarely share coordinates; a plain mean would shrink each sent value by the
    number of miners, so progress would fall as the swarm grows.
    """
    total = torch.zeros_like(accepted[0].update)
    weight = torch.zeros_like(accepted[0].update)
    for u in accepted:
        clipped = compute_clipped(u.update, clip)
        total += u.weight * clipped
        weight += u.weight * (clipped != 0).to(torch.float32)
    return torch.where(weight > 0, total / weight.clamp_min(1e-30), torch.zeros_like(total))


def compute_dense_mean(accepted: list[WeightedUpdate], clip: float) -> torch.Tensor:
    """The weighted mean of the clipped updates (every update counts at every coordinate)."""
    total = torch.zeros_like(accepted[0].update)
    for u in accepted:
        total += u.weight * compute_clipped(u.update, clip)
    return total / sum(u.weight for u in accepted)


def compute_outer_gradient(accepted: list[WeightedUpdate], clip: float, params: WorkParams) -> torch.Tensor:
    if params.outer_optimizer == "sparseloco":
        return compute_sparse_mean(accepted, clip)
    return compute_dense_mean(accepted, clip)


def compute_outer_step(
    prev: Checkpoint, gradient: torch.Tensor, params: WorkParams
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(θ_prev − θ_next, next momentum buffer) for the outer gradient g (plain or Nesterov SGD)."""
    if params.outer_momentum == 0 or params.outer_optimizer == "average":
        return params.outer_lr * gradient, None
    momentum = gradient.clone() if prev.momentum is None else params.outer_momentum * prev.momentum + gradient
    return params.outer_lr * (gradient + params.outer_momentum * momentum), momentum


def compute_next_checkpoint(prev: Checkpoint, updates: list[WeightedUpdate], params: WorkParams) -> AggregateResult:
    size = sum(t.numel() for t in prev.state.values())
    if any(u.update.shape != (size,) or u.update.dtype != torch.float32 for u in updates):
        raise WorkError("bad-update-shape", f"every update must be float32 of {size} elements")
    if len({u.artifact_id for u in updates}) != len(updates):
        raise WorkError("duplicate-artifact", "an artifact appears twice")
    if prev.momentum is not None and (prev.momentum.shape != (size,) or prev.momentum.dtype != torch.float32):
        raise WorkError("bad-momentum", f"the outer momentum must be float32 of {size} elements")
    accepted = compute_accepted(updates, params)
    if len(accepted) < params.quorum:  # the epoch is skipped: the checkpoint (and its momentum) stays
        data = encode_checkpoint(prev)
        return AggregateResult(prev, data, checkpoint_hash(data), (), torch.zeros(size, dtype=torch.float32))
    clip = compute_median([n for n in (float(u.update.norm()) for u in updates) if n > 0])
    step, momentum = compute_outer_step(prev, compute_outer_gradient(accepted, clip, params), params)
    state = compute_unflat(compute_flat(prev.state) - step, prev.config)
    checkpoint = replace(prev, state=state, momentum=momentum)  # the tokenizer travels on
    data = encode_checkpoint(checkpoint)
    return AggregateResult(checkpoint, data, checkpoint_hash(data), tuple(u.artifact_id for u in accepted), step)
