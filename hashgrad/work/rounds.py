"""Rounds inside epochs, in process: many outer steps per epoch, consensus once per epoch.

An *epoch* is the chain's rhythm (weights, Yuma consensus, emission, the checkpoint hash on
chain); a *round* is training's: one outer step. Local SGD needs many outer steps before the
averaged trajectories of N miners are worth more than one (bench/README.md), so an epoch holds
`params.rounds_per_epoch` rounds:

    round seed   s_r = H(epoch seed ‖ r)                      data f(epoch seed, round, hotkey)
    miner        H inner steps from checkpoint r−1 on its s_r batches; Δ with error feedback,
                 compressed; a hash-named artifact whose header binds (job, round, base hash,
                 hotkey) and whose commitment joins the miner's list for the epoch
    selection    passes the checks anyone can redo (format, commitment, base, norm bounds, no
                 copy or replay) and, after the first epoch, held incentive in one of the last
                 `selection_epochs` epochs' consensus (aggregate.compute_round_selection); the rest weigh 0
    checkpoint r aggregate.compute_next_checkpoint(checkpoint r−1, round r's artifacts): pure,
                 clipped to the round's median norm, so a poisoned round does bounded damage
    validators   loss-test a salted share (`score_fraction`) of the rounds as they come
                 (scoring.compute_scores); a miner flagged in any round scores 0 for the epoch
    epoch end    per miner one commitment: the Merkle root of its round commitments; each
                 validator's weights (mean over its scored rounds) go through Yuma, the chain's
                 epoch computation; its incentive is next epoch's consensus

The header's `epoch` field carries the global round number, so a round artifact cannot be
replayed into another round. Yuma is called here directly with the chain's job parameters (one
place: `compute_epoch_consensus`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from hashgrad.chain.job_epoch import compute_incentive_u16, compute_job_consensus
from hashgrad.chain.jobs import JOB_TRAIN, JobParams
from hashgrad.chain.merkle import compute_merkle_root
from hashgrad.errors import WorkError
from hashgrad.incentive.convert import compute_u16_row_from_floats
from hashgrad.store.artifacts import MemoryArtifactStore
from hashgrad.work.aggregate import (
    AggregateResult,
    WeightedUpdate,
    compute_next_checkpoint,
    compute_round_selection,
    compute_selection_consensus,
    compute_update_weight,
)
from hashgrad.work.compress import compute_layout
from hashgrad.work.data import Dataset
from hashgrad.work.evaluate import compute_heldout_loss
from hashgrad.work.hashing import compute_permutation, compute_tagged_hash
from hashgrad.work.model import Checkpoint, checkpoint_hash, decode_checkpoint, encode_checkpoint
from hashgrad.work.params import WorkParams
from hashgrad.work.scoring import (
    ScoringInputs,
    Submission,
    ValidatorState,
    compute_decoded,
    compute_flags,
    compute_scores,
)
from hashgrad.work.swarm import Commit, SimMiner, compute_epoch_seed, run_miner_period

VALIDATOR_STAKE = 1000 * 10**8
ROUND_JOB = JobParams(0, "train-rounds", JOB_TRAIN)


@dataclass(frozen=True)
class RoundRecord:
    round: int  # global round number (what the artifact headers carry)
    epoch: int
    heldout_loss: float
    checkpoint_hash: bytes
    accepted: int
    flags: dict[int, str]  # uid -> reason from the checks anyone can redo
    miner_seconds: float
    validator_seconds: float  # loss tests and audits of this round (0 when nobody scored it)
    artifact_bytes: dict[int, int]
    commitments: dict[int, bytes]  # uid -> the commitment of its round artifact
    scored: int = 0  # validators that loss-tested this round
    tested: int = 0
    audited: int = 0
    audit_steps: int = 0


@dataclass(frozen=True)
class EpochSummary:
    epoch: int
    rounds: tuple[RoundRecord, ...]
    weights: dict[int, float]  # miner uid -> incentive (Yuma, as the chain computes it)
    validator_weights: tuple[dict[int, float], ...]  # per validator, before consensus
    commitments: dict[int, bytes]  # miner uid -> Merkle root over its round commitments
    checkpoint_hash: bytes  # after the epoch's last round (what goes on chain)

    @property
    def heldout_loss(self) -> float:
        return self.rounds[-1].heldout_loss


@dataclass
class RoundSwarm:
    params: WorkParams
    dataset: Dataset
    checkpoint: Checkpoint
    miners: list[SimMiner]
    validators: int = 1
    store: MemoryArtifactStore = field(default_factory=MemoryArtifactStore)
    states: list[ValidatorState] = field(default_factory=list)
    history: list[list[torch.Tensor]] = field(default_factory=list)  # per round: updates and the global step
    past_artifacts: list[bytes] = field(default_factory=list)  # artifacts aggregated last round
    consensus: dict[int, float] = field(default_factory=dict)  # last epoch's incentive per miner uid
    consensus_history: list[dict[int, float]] = field(default_factory=list)  # every epoch's, oldest first
    bonds: list[list[int]] | None = None
    epoch: int = 0
    round: int = 0
    job: JobParams = ROUND_JOB
    heldout_every: int = 1  # measure the held-out loss every this many rounds and at each epoch's end (NaN between)


def build_round_swarm(
    params: WorkParams, dataset: Dataset, checkpoint: Checkpoint, kinds: list[str], validators: int = 1
) -> RoundSwarm:
    miners = [
        SimMiner(uid, kind, compute_tagged_hash("hashgrad/sim/hotkey", uid.to_bytes(4, "little")))
        for uid, kind in enumerate(kinds)
    ]
    return RoundSwarm(params, dataset, checkpoint, miners, validators, states=[ValidatorState()] * validators)


def add_round_miner(swarm: RoundSwarm, kind: str = "honest") -> SimMiner:
    """A miner that joins between epochs: a new uid with no consensus yet (so it is scored, but not
    aggregated, until an epoch's consensus holds it)."""
    uid = len(swarm.miners)
    miner = SimMiner(uid, kind, compute_tagged_hash("hashgrad/sim/hotkey", uid.to_bytes(4, "little")))
    swarm.miners.append(miner)
    swarm.bonds = None if swarm.bonds is None else compute_grown_bonds(swarm.bonds, len(swarm.miners) - 1)
    return miner


def compute_grown_bonds(bonds: list[list[int]], miners_before: int) -> list[list[int]]:
    """Stored bonds after one uid is inserted at `miners_before` (before the validators' uids)."""
    rows = [row[:miners_before] + [0] + row[miners_before:] for row in bonds]
    return rows[:miners_before] + [[0] * (len(bonds) + 1)] + rows[miners_before:]


def fetch_checkpoint(store: MemoryArtifactStore, expected_hash: bytes) -> Checkpoint:
    """Catch up: the checkpoint the chain recorded, fetched by its hash (the store checks the bytes)."""
    return decode_checkpoint(store.get(expected_hash))


def compute_round_seed(epoch_seed: bytes, round_in_epoch: int) -> bytes:
    """The seed of one round: every miner's pages and batch order derive from it and its hotkey."""
    return compute_tagged_hash("hashgrad/work/round-seed", epoch_seed + round_in_epoch.to_bytes(4, "little"))


def compute_validator_salt(validator: int, epoch_seed: bytes) -> bytes:
    return compute_tagged_hash("hashgrad/sim/salt", bytes([validator]) + epoch_seed)


def compute_scored_rounds(salt: bytes, rounds: int, fraction: float) -> frozenset[int]:
    """The rounds (in-epoch indices) a validator loss-tests: ceil(fraction x rounds) of them, drawn
    by its salt, which it commits to before the epoch and discloses after scoring."""
    count = min(rounds, max(1, -int(-fraction * rounds // 1)))
    return frozenset(compute_permutation(compute_tagged_hash("hashgrad/work/scored-rounds", salt), rounds)[:count])


def run_round_miners(swarm: RoundSwarm, base_hash: bytes, seed: bytes) -> tuple[list[Commit], float]:
    """Every miner's artifact for this round, in commit order, and the miners' compute seconds."""
    return run_miner_period(
        swarm.miners,
        swarm.checkpoint,
        base_hash,
        swarm.dataset,
        seed,
        swarm.round,
        swarm.params,
        swarm.store,
        swarm.past_artifacts,
    )


def compute_submissions(swarm: RoundSwarm, commits: list[Commit]) -> tuple[Submission, ...]:
    return tuple(
        Submission(c.uid, c.hotkey, c.commitment, c.commit_order, swarm.store.get(c.artifact_id)) for c in commits
    )


def compute_round_checks(inputs: ScoringInputs) -> tuple[dict[int, torch.Tensor], dict[int, str]]:
    """(uid -> decoded update, uid -> reason) from the checks that need no secret: decoding,
    header binding and commitment, norm bounds, copies and replays. Anyone can redo them."""
    layout = compute_layout(inputs.params.model, inputs.params.chunk_size, inputs.params.topk)
    order = sorted(inputs.submissions, key=lambda s: (s.commit_order, s.uid))
    updates, reasons = {}, {}
    for sub in order:
        try:
            updates[sub.uid] = compute_decoded(sub, inputs, layout)[1]
        except WorkError as exc:
            reasons[sub.uid] = exc.reason
    return updates, reasons | compute_flags(inputs, updates, order)


def compute_round_checkpoint(
    public: ScoringInputs,
    consensus: dict[int, float],
    updates: dict[int, torch.Tensor],
    flags: dict[int, str],
    commits: list[Commit],
) -> AggregateResult:
    """Checkpoint r from checkpoint r−1 (`public.checkpoint`) and round r's artifacts: those that pass
    the public checks and last epoch's consensus weigh 1, the rest 0 (they still set the clip)."""
    selected = compute_round_selection(consensus, [uid for uid in updates if uid not in flags], public.params)
    by_uid = {c.uid: c for c in commits}
    weighted = [
        WeightedUpdate(by_uid[uid].artifact_id, update, 1.0 if uid in selected else 0.0)
        for uid, update in updates.items()
    ]
    return compute_next_checkpoint(public.checkpoint, weighted, public.params)


def compute_recent_history(swarm: RoundSwarm) -> tuple[torch.Tensor, ...]:
    return tuple(u for entry in swarm.history[-swarm.params.history_epochs :] for u in entry)


def run_round(
    swarm: RoundSwarm, epoch_seed: bytes, index: int, scored_by: list[int], weight_sums: list[dict[int, float]]
) -> RoundRecord:
    """One round: miners, the checks, validators that score it, the outer step."""
    params = swarm.params
    base_hash = checkpoint_hash(encode_checkpoint(swarm.checkpoint))
    seed = compute_round_seed(epoch_seed, index)
    commits, miner_seconds = run_round_miners(swarm, base_hash, seed)
    submissions = compute_submissions(swarm, commits)
    history = compute_recent_history(swarm)
    public = ScoringInputs(
        params, swarm.round, seed, bytes(32), swarm.checkpoint, base_hash, swarm.dataset, submissions, history
    )
    updates, flags = compute_round_checks(public)
    started, tested, audited, audit_steps = time.process_time(), 0, 0, 0
    for v in scored_by:
        inputs = ScoringInputs(
            params,
            swarm.round,
            seed,
            compute_validator_salt(v, epoch_seed),
            swarm.checkpoint,
            base_hash,
            swarm.dataset,
            submissions,
            history,
        )
        report = compute_scores(inputs, swarm.states[v])
        swarm.states[v] = report.state
        for uid, weight in report.weights.items():
            weight_sums[v][uid] = weight_sums[v].get(uid, 0.0) + weight
        tested += sum(verdict.loss_test is not None for verdict in report.verdicts)
        audited += sum(verdict.audited for verdict in report.verdicts)
        audit_steps += sum(verdict.audit_steps for verdict in report.verdicts)
    validator_seconds = time.process_time() - started
    selection = compute_selection_consensus(swarm.consensus_history, params)
    result = compute_round_checkpoint(public, selection, updates, flags, commits)
    swarm.history.append(list(updates.values()) + [result.step])
    swarm.past_artifacts = [swarm.store.get(artifact_id) for artifact_id in result.accepted]
    swarm.checkpoint = result.checkpoint
    measured = (swarm.round + 1) % swarm.heldout_every == 0 or index == params.rounds_per_epoch - 1
    record = RoundRecord(
        swarm.round,
        swarm.epoch,
        compute_heldout_loss(swarm.checkpoint, swarm.dataset) if measured else float("nan"),
        result.checkpoint_hash,
        len(result.accepted),
        flags,
        miner_seconds,
        validator_seconds,
        {c.uid: len(swarm.store.get(c.artifact_id)) for c in commits},
        {c.uid: c.commitment for c in commits},
        len(scored_by),
        tested,
        audited,
        audit_steps,
    )
    swarm.round += 1
    return record


def compute_validator_row(sums: dict[int, float], flagged: set[int]) -> dict[int, float]:
    """A validator's epoch weights: its round weights summed, zero for a miner flagged in any round."""
    kept = {uid: w for uid, w in sums.items() if uid not in flagged and w > 0}
    total = sum(kept.values())
    return {uid: w / total for uid, w in sorted(kept.items())} if total > 0 else {}


def compute_epoch_consensus(swarm: RoundSwarm, rows: list[dict[int, float]]) -> dict[int, float]:
    """miner uid -> aggregation weight: the chain's own epoch computation (chain/job_epoch.py) over the
    validators' u16 weights (uids: the miners, then the validators with equal stake; bonds kept across
    epochs), as the incentive the chain stores."""
    miners, n = len(swarm.miners), len(swarm.miners) + swarm.validators
    matrix = [[0] * n for _ in range(n)]
    for v, row in enumerate(rows):
        matrix[miners + v][:miners] = compute_u16_row_from_floats([row.get(uid, 0.0) for uid in range(miners)])
    if not any(any(r) for r in matrix):
        return {}
    stakes = [0] * miners + [VALIDATOR_STAKE] * swarm.validators
    bonds = swarm.bonds if swarm.bonds is not None else [[0] * n for _ in range(n)]
    result = compute_job_consensus(matrix, stakes, bonds, swarm.job)
    swarm.bonds = [list(row) for row in result.bonds]
    stored = compute_incentive_u16(result)
    return {uid: compute_update_weight(stored[uid]) for uid in range(miners) if stored[uid] > 0}


def compute_miner_commitments(commitments: dict[int, list[bytes]]) -> dict[int, bytes]:
    """Per miner, the Merkle root over its round commitments in round order (one hash on chain)."""
    return {uid: compute_merkle_root(leaves)[0] for uid, leaves in sorted(commitments.items())}


def run_epoch_rounds(swarm: RoundSwarm, on_round=None) -> EpochSummary:
    params = swarm.params
    epoch_seed = compute_epoch_seed(checkpoint_hash(encode_checkpoint(swarm.checkpoint)), swarm.epoch)
    scored = [
        compute_scored_rounds(compute_validator_salt(v, epoch_seed), params.rounds_per_epoch, params.score_fraction)
        for v in range(swarm.validators)
    ]
    weight_sums: list[dict[int, float]] = [{} for _ in range(swarm.validators)]
    records, flagged = [], set()
    leaves: dict[int, list[bytes]] = {}
    for index in range(params.rounds_per_epoch):
        record = run_round(
            swarm, epoch_seed, index, [v for v in range(swarm.validators) if index in scored[v]], weight_sums
        )
        records.append(record)
        flagged |= set(record.flags)
        for uid, commitment in record.commitments.items():
            leaves.setdefault(uid, []).append(commitment)
        if on_round is not None:
            on_round(record)
    swarm.store.put(encode_checkpoint(swarm.checkpoint))  # served by hash: what late joiners fetch
    rows = [compute_validator_row(sums, flagged) for sums in weight_sums]
    swarm.consensus = compute_epoch_consensus(swarm, rows)
    swarm.consensus_history.append(dict(swarm.consensus))
    summary = EpochSummary(
        swarm.epoch,
        tuple(records),
        dict(swarm.consensus),
        tuple(rows),
        compute_miner_commitments(leaves),
        records[-1].checkpoint_hash,
    )
    swarm.epoch += 1
    return summary
