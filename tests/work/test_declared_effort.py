"""Declared effort: a miner states its batch in the update header, audits replay that batch, and its
credit is scaled by it (hashgrad.work.update.get_run_params, scoring.compute_effort_factor)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from hashgrad.errors import WorkError
from hashgrad.work.adversaries import MinerContext, compute_output
from hashgrad.work.compress import apply_error_feedback, compute_layout
from hashgrad.work.evaluate import LossTest
from hashgrad.work.graded import Effort, compute_graded_output
from hashgrad.work.hashing import compute_tagged_hash
from hashgrad.work.miner import build_update, compute_training
from hashgrad.work.scoring import (
    OwnGate,
    ScoringInputs,
    Submission,
    ValidatorState,
    compute_effort_factor,
    compute_round_credit,
    compute_scores,
)
from hashgrad.work.update import compute_delta_hash, decode_update, get_run_params

SEED = b"\x5d" * 32


def loss_test(s_own, s_rand, se=0.001):
    return LossTest(s_own=s_own, s_rand=s_rand, rand_stderr=se, diff_stderr=se, z=1.0, gate_z=2.0)


def hotkey(uid: int) -> bytes:
    return compute_tagged_hash("test/declared-hotkey", bytes([uid]))


def layout_of(params):
    return compute_layout(params.model, params.chunk_size, params.topk)


def overdeclared(checkpoint, base_hash, dataset, params, key):
    """Trained on batches of half the job's size, but declares the job's batch."""
    delta, milestones = compute_training(
        checkpoint, dataset, SEED, key, replace(params, batch_size=params.batch_size // 2)
    )
    layout = layout_of(params)
    payload, _ = apply_error_feedback(torch.zeros(layout.num_params), delta, layout, params.quant_bins, 0.5)
    return build_update(params, 1, base_hash, key, compute_delta_hash(delta), payload, layout, milestones=milestones)


@pytest.fixture(scope="module")
def report(checkpoint, base_hash, dataset, params):
    """Honest miners (uids 0-2), a half-batch miner that declares it (3) and one that hides it (4), a
    half-steps miner that declares it (5), every one of them replayed in full."""
    subs = []
    for uid in range(3):
        out = compute_output("honest", MinerContext(checkpoint, base_hash, dataset, SEED, hotkey(uid), 1, params))
        subs.append(Submission(uid, hotkey(uid), out.commitment, uid, out.artifact))
    half = compute_graded_output(
        MinerContext(checkpoint, base_hash, dataset, SEED, hotkey(3), 1, params), Effort("batch", 0.5)
    )
    subs.append(Submission(3, hotkey(3), half.commitment, 3, half.artifact))
    artifact, _, commitment = overdeclared(checkpoint, base_hash, dataset, params, hotkey(4))
    subs.append(Submission(4, hotkey(4), commitment, 4, artifact))
    steps = compute_graded_output(
        MinerContext(checkpoint, base_hash, dataset, SEED, hotkey(5), 1, params), Effort("steps", 0.5)
    )
    subs.append(Submission(5, hotkey(5), steps.commitment, 5, steps.artifact))
    inputs = ScoringInputs(
        params,
        1,
        SEED,
        b"salt",
        checkpoint,
        base_hash,
        dataset,
        tuple(subs),
        forced_audits=frozenset(hotkey(uid) for uid in range(6)),
    )
    return compute_scores(inputs, ValidatorState()), subs


def test_declared_smaller_batch_and_steps_pass_their_audits_and_a_hidden_one_fails(report, params):
    result, subs = report
    header = decode_update(subs[3].artifact, params, layout_of(params))[0]
    assert header.batch_size == params.batch_size // 2
    assert get_run_params(params, header).batch_size == params.batch_size // 2
    verdicts = {v.uid: v for v in result.verdicts}
    assert all(verdicts[uid].audited and verdicts[uid].audit_steps == params.inner_steps for uid in range(5))
    assert verdicts[5].audited
    assert [verdicts[uid].reason for uid in (0, 1, 2, 3, 5)] == [None] * 5
    assert verdicts[5].audit_steps == params.inner_steps // 2  # replayed to the steps it declared
    assert verdicts[4].reason == "audit-failed"  # over-declared: the replay at the job's batch diverges
    assert [e.uid for e in result.evidence] == [4]


def test_credit_is_scaled_by_the_declared_batch(params):
    header = type("H", (), {"batch_size": params.batch_size // 4, "inner_steps": params.inner_steps})()
    assert compute_effort_factor(header, params) == pytest.approx(0.25)
    header.inner_steps = params.inner_steps // 2
    assert compute_effort_factor(header, params) == pytest.approx(0.125)
    gate = OwnGate(enforced=False, measurable=False, median_excess=0.0)
    flat = replace(params, gain_power=1.0)
    full = compute_round_credit(loss_test(0.05, 0.03), 0.03, gate, flat)
    assert full == pytest.approx(1.0)
    assert compute_round_credit(loss_test(0.05, 0.03), 0.03, gate, flat, 0.25) == pytest.approx(0.25)


@pytest.mark.parametrize("batch", [0, 2])
def test_a_batch_outside_the_jobs_range_is_refused(checkpoint, base_hash, dataset, params, batch):
    job = replace(params, min_batch_size=params.batch_size // 2 + 1 if batch else 1)
    layout = layout_of(params)
    payload, _ = apply_error_feedback(
        torch.zeros(layout.num_params), torch.ones(layout.num_params), layout, params.quant_bins, 0.5
    )
    declared = params.batch_size + 1 if batch == 0 else params.batch_size // 2
    artifact, _, _ = build_update(
        replace(params, batch_size=declared), 1, base_hash, hotkey(9), bytes(32), payload, layout
    )
    with pytest.raises(WorkError) as info:
        decode_update(artifact, job, layout)
    assert info.value.reason == "wrong-batch"
