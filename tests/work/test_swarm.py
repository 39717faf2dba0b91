"""Whole epochs in-process: honest swarms learn, cheats earn nothing (hashgrad.work.swarm)."""
from __future__ import annotations

from dataclasses import replace

from hashgrad.work.adversaries import ADVERSARY_KINDS
from hashgrad.work.evaluate import compute_heldout_loss
from hashgrad.work.swarm import build_swarm, run_epoch


def test_honest_swarm_lowers_heldout_loss(checkpoint, dataset, params):
    swarm = build_swarm(params, dataset, checkpoint, ["honest"] * 4)
    start = compute_heldout_loss(checkpoint, dataset)
    records = [run_epoch(swarm) for _ in range(3)]
    assert records[-1].heldout_loss < start - 0.3
    assert all(r.accepted >= params.quorum for r in records)
    assert all(sum(r.weights.values()) > 0.999 for r in records)


def test_every_adversary_kind_earns_nothing(checkpoint, dataset, params):
    kinds = ["honest"] * 6 + list(ADVERSARY_KINDS)
    # audits at every epoch here, so that the sandbagger meets one within the test's few epochs
    swarm = build_swarm(replace(params, audit_probability=1.0), dataset, checkpoint, kinds)
    records = [run_epoch(swarm) for _ in range(3)]
    for record in records:
        earned = {kinds[uid]: w for uid, w in record.weights.items() if kinds[uid] != "honest"}
        assert sum(earned.values()) < 0.01, (record.epoch, earned)
    assert records[-1].heldout_loss < records[0].heldout_loss
