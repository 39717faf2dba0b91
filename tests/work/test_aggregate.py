"""The outer step into the next checkpoint (hashgrad.work.aggregate)."""
from __future__ import annotations

from dataclasses import replace

import torch

from hashgrad.work.aggregate import WeightedUpdate, compute_next_checkpoint
from hashgrad.work.model import checkpoint_hash, compute_flat


def make_updates(size: int, count: int = 5) -> list[WeightedUpdate]:
    generator = torch.Generator().manual_seed(3)
    return [WeightedUpdate(bytes([i]) * 32, torch.randn(size, generator=generator) * 1e-3, 1.0 + i / 10)
            for i in range(count)]


def test_two_aggregations_give_the_identical_hash(checkpoint, params):
    size = compute_flat(checkpoint.state).numel()
    updates = make_updates(size)
    first = compute_next_checkpoint(checkpoint, updates, params)
    second = compute_next_checkpoint(checkpoint, list(reversed(updates)), params)
    assert first.checkpoint_hash == second.checkpoint_hash == checkpoint_hash(first.checkpoint_bytes)
    assert first.checkpoint_hash != checkpoint_hash(checkpoint.to_bytes())
    assert len(first.accepted) == 5


def test_below_quorum_the_checkpoint_does_not_move(checkpoint, params):
    size = compute_flat(checkpoint.state).numel()
    updates = [replace(u, weight=0.0) if i >= 2 else u for i, u in enumerate(make_updates(size))]
    result = compute_next_checkpoint(checkpoint, updates, params)
    assert result.checkpoint_hash == checkpoint_hash(checkpoint.to_bytes()) and result.accepted == ()


def test_a_huge_update_is_clipped_to_the_median_norm(checkpoint, params):
    size = compute_flat(checkpoint.state).numel()
    updates = make_updates(size)
    updates[0] = replace(updates[0], update=updates[0].update * 1e4)
    step = compute_next_checkpoint(checkpoint, updates, params).step
    assert float(step.norm()) <= max(float(u.update.norm()) for u in updates[1:]) * 1.0001
