"""Whole epochs in-process: honest swarms learn, cheats earn nothing (hashgrad.work.swarm)."""

from __future__ import annotations

from dataclasses import replace

from hashgrad.work.adversaries import ADVERSARY_KINDS
from hashgrad.work.evaluate import compute_heldout_loss
from hashgrad.work.swarm import build_swarm, compute_consensus_weights, run_epoch


def test_honest_swarm_lowers_heldout_loss(checkpoint, dataset, params):
    # Learning, not one kernel's rounding: which honest miner's gain falls under the scoring floor in
    # an epoch changes with the CPU kernel (ATEN_CPU_CAPABILITY), so the swarm has two miners above
    # the quorum, and the loss margin is well under the ~0.8 nats every kernel reaches.
    swarm = build_swarm(params, dataset, checkpoint, ["honest"] * (params.quorum + 2))
    start = compute_heldout_loss(checkpoint, dataset)
    records = [run_epoch(swarm) for _ in range(3)]
    assert records[-1].heldout_loss < start - 0.3
    assert all(reason is None for r in records for reason in r.reasons.values())
    assert all(r.accepted >= params.quorum for r in records)
    assert all(sum(r.weights.values()) > 0.999 for r in records)  # the chain's incentive, u16-floored


def test_every_adversary_kind_earns_nothing(checkpoint, dataset, params):
    kinds = ["honest"] * 6 + list(ADVERSARY_KINDS)
    # audits at every epoch here, so that the sandbagger meets one within the test's few epochs
    swarm = build_swarm(replace(params, audit_probability=1.0), dataset, checkpoint, kinds)
    records = [run_epoch(swarm) for _ in range(3)]
    for record in records:
        earned = {kinds[uid]: w for uid, w in record.weights.items() if kinds[uid] != "honest"}
        assert sum(earned.values()) < 0.01, (record.epoch, earned)
    assert records[-1].heldout_loss < records[0].heldout_loss


def test_swarm_weights_are_the_chains_yuma_incentive(checkpoint, dataset, params):
    # three validators of equal stake: a miner weighed by one of them only is outside the consensus and
    # gets nothing (a mean of the validators' weights would have paid it a third)
    swarm = build_swarm(params, dataset, checkpoint, ["honest"] * 2, validators=3)
    weights = compute_consensus_weights(swarm, [{0: 65535}, {0: 65535}, {1: 65535}])
    assert set(weights) == {0} and weights[0] > 0.999
    assert any(any(row) for row in swarm.bonds)  # bonds carry over to the next epoch, as on chain
    assert compute_consensus_weights(swarm, [{}, {}, {}]) == {}
