"""Graded-effort miners (hashgrad.work.graded): full effort is the honest miner, less is less work."""

from __future__ import annotations

import pytest
import torch

from hashgrad.errors import WorkError
from hashgrad.work.adversaries import MinerContext, compute_output
from hashgrad.work.compress import compute_layout
from hashgrad.work.data import compute_assigned_pages
from hashgrad.work.graded import AXES, Effort, compute_graded_output, compute_unfaithful_dataset
from hashgrad.work.hashing import compute_tagged_hash
from hashgrad.work.update import MILESTONE_BYTES, compute_milestone_steps, decode_update, get_run_params

SEED = b"\x61" * 32
HOTKEY = compute_tagged_hash("test/graded", b"")


@pytest.fixture(scope="module")
def ctx(checkpoint, base_hash, dataset, params):
    return MinerContext(checkpoint, base_hash, dataset, SEED, HOTKEY, 1, params)


@pytest.mark.parametrize("axis", AXES)
def test_full_effort_is_the_honest_miner(ctx, axis):
    assert compute_graded_output(ctx, Effort(axis, 1.0)).artifact == compute_output("honest", ctx).artifact


def test_fewer_steps_send_a_smaller_update_and_declare_their_steps(ctx, params):
    honest, half = compute_output("honest", ctx), compute_graded_output(ctx, Effort("steps", 0.5))
    assert 0 < float(half.delta.norm()) < float(honest.delta.norm())
    header, _ = decode_update(half.artifact, params, compute_layout(params.model, params.chunk_size, params.topk))
    assert header.inner_steps == params.inner_steps // 2 and header.batch_size == params.batch_size
    reached = compute_milestone_steps(get_run_params(params, header))
    assert len(header.milestones) == len(reached) == (params.inner_steps // 2 - 1) // params.audit_stride
    assert all(m != bytes(MILESTONE_BYTES) for m in header.milestones)


def test_smaller_batches_train_on_fewer_windows(ctx):
    honest, small = compute_output("honest", ctx), compute_graded_output(ctx, Effort("batch", 0.25))
    assert not torch.equal(honest.delta, small.delta)


def test_an_unfaithful_miner_swaps_a_share_of_its_pages(ctx, dataset, params):
    pages = compute_assigned_pages(SEED, HOTKEY, params.pages_per_miner, dataset.train_pages)
    seen = compute_unfaithful_dataset(ctx, 0.5)
    changed = [p for p in pages if not (seen.pages[p] == dataset.pages[p]).all()]
    assert len(changed) == len(pages) - round(0.5 * len(pages))
    others = [p for p in range(len(dataset.pages)) if p not in pages]
    assert all((seen.pages[p] == dataset.pages[p]).all() for p in others)
    assert compute_unfaithful_dataset(ctx, 1.0) is dataset


@pytest.mark.parametrize("effort", [Effort("hashes", 0.5), Effort("steps", 0.0), Effort("data", 1.5)])
def test_bad_efforts_raise(ctx, effort):
    with pytest.raises(WorkError) as info:
        compute_graded_output(ctx, effort)
    assert info.value.reason == "bad-effort"
