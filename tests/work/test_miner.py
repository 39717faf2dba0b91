"""The miner's epoch and the replay audits (hashgrad.work.miner, evaluate.is_replay_exact / is_prefix_exact)."""

from __future__ import annotations

from dataclasses import replace

import torch

from hashgrad.work.adversaries import MinerContext, compute_output
from hashgrad.work.compress import compute_layout
from hashgrad.work.evaluate import compute_audit_steps, is_prefix_exact, is_replay_exact
from hashgrad.work.miner import compute_miner_update, compute_pseudo_gradient
from hashgrad.work.update import compute_delta_hash, compute_milestone_steps, decode_update

SEED, HK1, HK2 = b"\x11" * 32, b"\x21" * 32, b"\x22" * 32


def test_pseudo_gradient_is_bit_exact_and_depends_on_the_hotkey(checkpoint, dataset, params):
    first = compute_pseudo_gradient(checkpoint, dataset, SEED, HK1, params)
    assert torch.equal(first, compute_pseudo_gradient(checkpoint, dataset, SEED, HK1, params))
    assert not torch.equal(first, compute_pseudo_gradient(checkpoint, dataset, SEED, HK2, params))
    assert float(first.norm()) > 0


def test_miner_update_is_deterministic_and_bound_to_its_context(checkpoint, base_hash, dataset, params):
    one = compute_miner_update(checkpoint, base_hash, dataset, SEED, HK1, 4, params, None)
    two = compute_miner_update(checkpoint, base_hash, dataset, SEED, HK1, 4, params, None)
    assert one.artifact == two.artifact and one.commitment == two.commitment
    later = compute_miner_update(checkpoint, base_hash, dataset, SEED, HK1, 5, params, None)
    assert later.commitment != one.commitment
    assert float(one.ef.norm()) > 0  # what was not sent is kept for next time


def test_replay_audit_passes_honest_work_and_catches_a_sandbagger(checkpoint, base_hash, dataset, params):
    ctx = MinerContext(checkpoint, base_hash, dataset, SEED, HK1, 0, params)
    honest = compute_output("honest", ctx)
    assert is_replay_exact(checkpoint, dataset, SEED, HK1, params, compute_delta_hash(honest.delta))
    sandbagger = compute_output("sandbagger", replace(ctx, hotkey=HK2))
    assert not is_replay_exact(checkpoint, dataset, SEED, HK2, params, compute_delta_hash(sandbagger.delta))


def test_prefix_audit_checks_the_declared_milestones(checkpoint, base_hash, dataset, params):
    ctx = MinerContext(checkpoint, base_hash, dataset, SEED, HK1, 0, params)
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    honest = decode_update(compute_output("honest", ctx).artifact, params, layout)[0]
    depths = compute_milestone_steps(params) + (params.inner_steps,)
    assert len(honest.milestones) == len(depths) - 1 >= 2
    assert all(is_prefix_exact(checkpoint, dataset, SEED, HK1, params, honest, steps) for steps in depths)
    # a sandbagger's milestones are genuine only up to the steps it ran, so any deeper audit catches it
    sandbagger = decode_update(compute_output("sandbagger", replace(ctx, hotkey=HK2)).artifact, params, layout)[0]
    assert not any(is_prefix_exact(checkpoint, dataset, SEED, HK2, params, sandbagger, steps) for steps in depths)
    tampered = replace(honest, milestones=(bytes(8),) + honest.milestones[1:])
    assert not is_prefix_exact(checkpoint, dataset, SEED, HK1, params, tampered, depths[0])
    # the depth is drawn from the seed and the validator's salt, over every milestone
    drawn = {compute_audit_steps(SEED, bytes([i]) * 32, HK1, params) for i in range(40)}
    assert drawn == set(depths)
