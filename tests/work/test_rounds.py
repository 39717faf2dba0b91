"""Rounds inside epochs (hashgrad.work.rounds): many outer steps per epoch, consensus per epoch."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from hashgrad.chain.merkle import compute_merkle_root
from hashgrad.errors import WorkError
from hashgrad.work.aggregate import (
    WeightedUpdate,
    compute_next_checkpoint,
    compute_round_selection,
    compute_selection_consensus,
)
from hashgrad.work.evaluate import compute_heldout_loss
from hashgrad.work.model import checkpoint_hash, compute_flat, decode_checkpoint
from hashgrad.work.rounds import (
    add_round_miner,
    build_round_swarm,
    compute_round_checkpoint,
    compute_round_checks,
    compute_scored_rounds,
    compute_submissions,
    fetch_checkpoint,
    run_epoch_rounds,
    run_round_miners,
)
from hashgrad.work.scoring import ScoringInputs, compute_median_norm


@pytest.fixture(scope="module")
def round_params(params):
    return replace(params, rounds_per_epoch=3, inner_steps=4, ef_decay=0.95, score_fraction=0.5)


def test_an_epoch_of_rounds_moves_the_checkpoint_every_round(round_params, dataset, checkpoint):
    swarm = build_round_swarm(round_params, dataset, checkpoint, ["honest"] * 4)
    start = compute_heldout_loss(checkpoint, dataset)
    first = run_epoch_rounds(swarm)
    assert [r.round for r in first.rounds] == [0, 1, 2] and all(r.accepted == 4 for r in first.rounds)
    assert len({r.checkpoint_hash for r in first.rounds}) == 3
    assert first.checkpoint_hash == checkpoint_hash(swarm.checkpoint.to_bytes())
    assert first.rounds[-1].heldout_loss < start
    # the epoch commitment of a miner is the Merkle root over its round commitments, in order
    assert first.commitments[0] == compute_merkle_root([r.commitments[0] for r in first.rounds])[0]
    # validators scored 2 of the 3 rounds (ceil(0.5 x 3)); Yuma's incentive is next epoch's consensus
    assert sum(r.scored for r in first.rounds) == 2
    # the incentive as the chain stores it: u16 shares, each floored, so they sum to 1 within 4 / 65535
    assert set(first.weights) == {0, 1, 2, 3} and sum(first.weights.values()) == pytest.approx(1.0, abs=4 / 65535)
    second = run_epoch_rounds(swarm)
    assert [r.round for r in second.rounds] == [3, 4, 5] and second.rounds[0].accepted >= round_params.quorum


def test_a_rounds_checkpoint_is_a_pure_function_of_the_last_and_its_artifacts(round_params, dataset, checkpoint):
    swarm = build_round_swarm(round_params, dataset, checkpoint, ["honest"] * 3 + ["poisoner"])
    base = checkpoint_hash(checkpoint.to_bytes())
    commits, _ = run_round_miners(swarm, base, b"s" * 32)
    public = ScoringInputs(
        round_params, 0, b"s" * 32, bytes(32), checkpoint, base, dataset, compute_submissions(swarm, commits)
    )
    updates, flags = compute_round_checks(public)
    first = compute_round_checkpoint(public, {}, updates, flags, commits)
    # anyone holding checkpoint r-1's bytes and the round's artifacts gets the same bits
    again = replace(public, checkpoint=decode_checkpoint(checkpoint.to_bytes()))
    updates2, flags2 = compute_round_checks(again)
    assert (
        compute_round_checkpoint(again, {}, updates2, flags2, list(reversed(commits))).checkpoint_hash
        == first.checkpoint_hash
        != base
    )
    # the poisoner passes the public checks in the first epoch, but every update is clipped to the
    # round's median norm: it moves the step by at most twice that norm
    assert flags == {}
    honest = compute_round_checkpoint(public, {}, updates, {3: "poisoned"}, commits)
    assert 0 < float((first.step - honest.step).norm()) <= 2 * compute_median_norm(updates)
    # with a consensus, only the uids it holds are aggregated
    held = compute_round_checkpoint(public, {0: 0.5, 1: 0.3, 2: 0.2}, updates, flags, commits)
    assert len(held.accepted) == 3 and held.checkpoint_hash != first.checkpoint_hash


def test_selection_follows_last_epochs_consensus(params):
    assert compute_round_selection({}, [3, 1, 2], params) == {1, 2, 3}
    consensus = {1: 0.5, 2: 0.45, 3: 0.01, 4: 0.04}
    assert compute_round_selection(consensus, [1, 2, 3, 5], params) == {1, 2, 3}  # 5: no incentive, 4: not passed
    assert compute_round_selection(consensus, [1, 2, 3, 5], replace(params, top_g=2)) == {1, 2}


def test_selection_holds_whoever_earned_in_the_last_selection_epochs(params):
    history = [{1: 0.6, 9: 0.4}, {2: 0.5, 3: 0.5}, {1: 1.0}]  # oldest first
    three = replace(params, selection_epochs=3)
    # summed over the window, deterministic and independent of the caller's dicts' order
    assert compute_selection_consensus(history, three) == {1: 1.6, 2: 0.5, 3: 0.5, 9: 0.4}
    assert compute_selection_consensus([dict(reversed(list(h.items()))) for h in history], three) == {
        1: 1.6,
        2: 0.5,
        3: 0.5,
        9: 0.4,
    }
    # one noisy epoch that gave 2 and 3 nothing does not drop them; a window of 1 is last epoch's consensus
    assert compute_round_selection(compute_selection_consensus(history, three), [1, 2, 3, 5], three) == {1, 2, 3}
    assert compute_round_selection(compute_selection_consensus(history, params), [1, 2, 3, 5], params) == {1}
    # the window slides: epoch 0's earner 9 is gone after 3 more epochs; no history: everyone passes
    assert 9 not in compute_selection_consensus(history + [{2: 1.0}], three)
    assert compute_selection_consensus([], three) == {}
    with pytest.raises(WorkError):
        replace(params, selection_epochs=0).check()


def test_scored_rounds_are_drawn_by_the_salt(params):
    a = compute_scored_rounds(b"a" * 32, 10, 0.2)
    assert len(a) == 2 and a <= set(range(10))
    assert any(compute_scored_rounds(bytes([i]) * 32, 10, 0.2) != a for i in range(5))
    assert compute_scored_rounds(b"a" * 32, 10, 1.0) == set(range(10))


def test_unknown_outer_optimizer_is_rejected(params):
    with pytest.raises(WorkError) as exc:
        replace(params, outer_optimizer="adam").check()
    assert exc.value.reason == "bad-params"


def test_outer_optimisers_differ_as_documented(checkpoint, params):
    size = compute_flat(checkpoint.state).numel()
    a, b = torch.zeros(size), torch.zeros(size)
    a[0], a[1], b[1], b[2] = 0.02, 0.01, 0.02, -0.01  # sparse, equal norms, overlapping at coordinate 1
    c = torch.zeros(size)
    c[3], c[4] = 0.02, 0.01
    updates = [WeightedUpdate(bytes([i]) * 32, u, 1.0) for i, u in enumerate((a, b, c))]
    loose = replace(params, norm_high=1e9)
    sparse = compute_next_checkpoint(checkpoint, updates, replace(loose, outer_optimizer="sparseloco")).step
    assert sparse[:4].tolist() == pytest.approx([0.02, 0.015, -0.01, 0.02])  # per-coordinate mean of senders
    mean = compute_next_checkpoint(checkpoint, updates, replace(loose, outer_optimizer="average")).step
    assert mean[:4].tolist() == pytest.approx([0.02 / 3, 0.03 / 3, -0.01 / 3, 0.02 / 3])  # dense mean
    nesterov = replace(loose, outer_optimizer="nesterov", outer_lr=0.7, outer_momentum=0.9)
    first = compute_next_checkpoint(checkpoint, updates, nesterov)
    assert first.step[:4].tolist() == pytest.approx([0.7 * 1.9 * x for x in mean[:4].tolist()])
    assert first.checkpoint.momentum is not None


def test_a_late_joiner_fetches_the_checkpoint_and_is_aggregated_after_an_epochs_consensus(
    round_params, dataset, checkpoint
):
    swarm = build_round_swarm(round_params, dataset, checkpoint, ["honest"] * 3)
    first = run_epoch_rounds(swarm)
    joiner = add_round_miner(swarm)
    # it catches up from the hash on chain alone: the store serves the bytes, and they hash right
    assert fetch_checkpoint(swarm.store, first.checkpoint_hash).to_bytes() == swarm.checkpoint.to_bytes()
    second = run_epoch_rounds(swarm)
    assert all(joiner.uid not in r.flags for r in second.rounds)
    assert all(r.accepted == 3 for r in second.rounds)  # no consensus holds it yet
    # the validators score it: its rating is an EMA of round credits, so a newcomer may need a
    # second epoch before its share shows in the weights (it did in the first under older scoring)
    third = run_epoch_rounds(swarm)
    assert second.weights.get(joiner.uid, 0.0) > 0 or third.weights.get(joiner.uid, 0.0) > 0
    fourth = run_epoch_rounds(swarm)
    assert fourth.rounds[0].accepted == 4  # once a consensus holds it, its rounds are aggregated
    with pytest.raises(WorkError) as exc:
        fetch_checkpoint(swarm.store, bytes(32))
    assert exc.value.reason == "artifact-not-found"


def test_one_inner_step_a_round_trains_passes_replay_audits_and_measures_loss_every_k_rounds(
    params, dataset, checkpoint
):
    # the rounds preset's per-step exchange (H = 1: each round is one compressed gradient step of every
    # miner): no milestones, an audit replays the whole step, and the held-out loss is measured every
    # `heldout_every` rounds and at the epoch's end
    one_step = replace(params, inner_steps=1, rounds_per_epoch=5, score_fraction=1.0, audit_probability=1.0)
    swarm = build_round_swarm(one_step, dataset, checkpoint, ["honest"] * 4)
    swarm.heldout_every = 2
    epoch = run_epoch_rounds(swarm)
    losses = [r.heldout_loss for r in epoch.rounds]
    assert [math.isfinite(loss) for loss in losses] == [False, True, False, True, True]
    assert losses[-1] < losses[1] < compute_heldout_loss(checkpoint, dataset)
    assert all(r.accepted == 4 and not r.flags for r in epoch.rounds)
    assert sum(r.audited for r in epoch.rounds) > 0 and all(r.audit_steps == r.audited for r in epoch.rounds)
    assert set(epoch.weights) == {0, 1, 2, 3}
