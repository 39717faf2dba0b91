"""Aggregation: the next checkpoint from the previous one and the epoch's weighted updates. Pure.

    accepted = top_g updates by consensus weight, weight >= accept_fraction x the best
    if len(accepted) < quorum: the checkpoint does not move (the epoch is skipped)
    clip every accepted update to the median norm of *all* non-zero submissions
    θ_next = θ − outer_lr · Σ w_i·clip(u_i) / Σ w_i           (SparseLoCo's outer step)

Every node computes this in the same order (updates sorted by artifact id, float32, one thread),
so the result is bit-identical on nodes of the same platform and its sha256 — `checkpoint_hash`
of the canonical bytes — is what goes on chain.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from hashgrad.errors import WorkError
from hashgrad.work.model import Checkpoint, checkpoint_hash, compute_flat, compute_unflat, encode_checkpoint
from hashgrad.work.params import WorkParams
from hashgrad.work.scoring import compute_clipped, compute_median


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


def compute_next_checkpoint(prev: Checkpoint, updates: list[WeightedUpdate], params: WorkParams) -> AggregateResult:
    size = sum(t.numel() for t in prev.state.values())
    if any(u.update.shape != (size,) or u.update.dtype != torch.float32 for u in updates):
        raise WorkError("bad-update-shape", f"every update must be float32 of {size} elements")
    if len({u.artifact_id for u in updates}) != len(updates):
        raise WorkError("duplicate-artifact", "an artifact appears twice")
    accepted = compute_accepted(updates, params)
    step = torch.zeros(size, dtype=torch.float32)
    if len(accepted) >= params.quorum:
        clip = compute_median([n for n in (float(u.update.norm()) for u in updates) if n > 0])
        total = sum(u.weight for u in accepted)
        for u in accepted:
            step += (u.weight / total) * compute_clipped(u.update, clip)
        step *= params.outer_lr
    else:
        accepted = []
    state = compute_unflat(compute_flat(prev.state) - step, prev.config)
    checkpoint = Checkpoint(prev.config, state)
    data = encode_checkpoint(checkpoint)
    return AggregateResult(checkpoint, data, checkpoint_hash(data), tuple(u.artifact_id for u in accepted), step)
