"""The outer step into the next checkpoint (hashgrad.work.aggregate)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from hashgrad.errors import WorkError
from hashgrad.work.aggregate import WeightedUpdate, compute_next_checkpoint
from hashgrad.work.model import checkpoint_hash, compute_flat, decode_checkpoint


def make_updates(size: int, count: int = 5) -> list[WeightedUpdate]:
    generator = torch.Generator().manual_seed(3)
    return [
        WeightedUpdate(bytes([i]) * 32, torch.randn(size, generator=generator) * 1e-3, 1.0 + i / 10)
        for i in range(count)
    ]


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


def test_outer_nesterov_momentum_is_carried_in_the_checkpoint(checkpoint, params):
    nesterov = replace(params, outer_lr=0.7, outer_momentum=0.9)
    size = compute_flat(checkpoint.state).numel()
    updates = make_updates(size)
    first = compute_next_checkpoint(checkpoint, updates, nesterov)
    assert first.checkpoint.momentum is not None and first.checkpoint.momentum.shape == (size,)
    # the next checkpoint is a pure function of the previous one's bytes: decode, aggregate, same hash
    decoded = decode_checkpoint(first.checkpoint_bytes)
    second = compute_next_checkpoint(decoded, updates, nesterov)
    assert (
        second.checkpoint_hash
        == compute_next_checkpoint(first.checkpoint, list(reversed(updates)), nesterov).checkpoint_hash
    )
    # m1 = g, m2 = 0.9 g + g: the second step of the same gradient is larger by (1 + 0.9*1.9)/(1 + 0.9)
    ratio = float(second.step.norm()) / float(first.step.norm())
    assert ratio == pytest.approx((1 + 0.9 * 1.9) / 1.9, rel=1e-4)
    assert torch.equal(first.checkpoint.state["wte.weight"], decoded.state["wte.weight"])


def test_a_skipped_epoch_keeps_the_checkpoint_and_its_momentum(checkpoint, params):
    nesterov = replace(params, outer_lr=0.7, outer_momentum=0.9)
    size = compute_flat(checkpoint.state).numel()
    moved = compute_next_checkpoint(checkpoint, make_updates(size), nesterov)
    skipped = compute_next_checkpoint(moved.checkpoint, [replace(u, weight=0.0) for u in make_updates(size)], nesterov)
    assert skipped.checkpoint_bytes == moved.checkpoint_bytes and skipped.accepted == ()
    with pytest.raises(WorkError) as exc:
        compute_next_checkpoint(replace(checkpoint, momentum=torch.zeros(3)), make_updates(size), nesterov)
    assert exc.value.reason == "bad-momentum"
