"""An in-process swarm: whole epochs of miners, one or more validators and aggregation, in order.

This is the shell the simulation CLI and the benchmark share with the real processes' code: the
miners call `adversaries.compute_output` (honest = `miner.compute_miner_update`), artifacts go
through a real `MemoryArtifactStore`, validators call `scoring.compute_scores`, and the next
checkpoint comes from `aggregate.compute_next_checkpoint`. What the chain will provide later is
stood in for plainly: the epoch seed is a tagged hash of the previous checkpoint hash and the
epoch number, commit order is submission order, and validators hold equal stake. The consensus is
the chain's own: the validators' u16 weights go through `chain.job_epoch.compute_job_consensus`
(Yuma, integer, with bonds kept across epochs) and updates are aggregated by the incentive it gives,
exactly as the validator role aggregates by the incentive the chain stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from hashgrad.chain.job_epoch import compute_incentive_u16, compute_job_consensus
from hashgrad.chain.jobs import JobParams
from hashgrad.store.artifacts import MemoryArtifactStore
from hashgrad.work.adversaries import MinerContext, compute_output
from hashgrad.work.aggregate import WeightedUpdate, compute_next_checkpoint, compute_update_weight
from hashgrad.work.data import Dataset
from hashgrad.work.evaluate import compute_heldout_loss
from hashgrad.work.hashing import compute_tagged_hash
from hashgrad.work.model import Checkpoint, checkpoint_hash, encode_checkpoint
from hashgrad.work.params import WorkParams
from hashgrad.work.scoring import ScoringInputs, Submission, ValidatorState, compute_scores

# Copycats and replays act on what others revealed, so they commit after everyone else.
COMMIT_LAST = ("copycat", "replay")
VALIDATOR_STAKE = 1000 * 10**8  # equal stake per validator (base units)
SIM_JOB = JobParams(job_id=0, name="sim", kind="training")


@dataclass
class SimMiner:
    uid: int
    kind: str
    hotkey: bytes
    ef: torch.Tensor | None = None


@dataclass(frozen=True)
class Commit:
    """What the chain would record for a miner this epoch: its commitment, in commit order."""

    uid: int
    hotkey: bytes
    commitment: bytes
    commit_order: int
    artifact_id: bytes


@dataclass
class EpochRecord:
    epoch: int
    heldout_loss: float
    checkpoint_hash: bytes
    weights: dict[int, float]
    reasons: dict[int, str | None]
    accepted: int
    miner_seconds: float  # total compute of all miners this epoch
    validator_seconds: float  # total compute of all validators this epoch (loss tests and audits)
    artifact_bytes: dict[int, int]
    audited: int
    tested: int = 0  # submissions that reached the loss test (the ones an audit may be drawn for)
    audit_steps: int = 0  # inner steps the first validator's audits replayed


@dataclass
class Swarm:
    params: WorkParams
    dataset: Dataset
    checkpoint: Checkpoint
    miners: list[SimMiner]
    validators: int = 1
    store: MemoryArtifactStore = field(default_factory=MemoryArtifactStore)
    states: list[ValidatorState] = field(default_factory=list)
    history: list[list[torch.Tensor]] = field(default_factory=list)  # per epoch: updates and the global step
    past_artifacts: list[bytes] = field(default_factory=list)  # artifacts aggregated last epoch
    epoch: int = 0
    job: JobParams = SIM_JOB  # the chain-side job parameters the consensus runs with (Yuma's)
    bonds: list[list[int]] = field(default_factory=list)  # stored bonds, n x n (miners then validators)


def build_swarm(
    params: WorkParams, dataset: Dataset, checkpoint: Checkpoint, kinds: list[str], validators: int = 1
) -> Swarm:
    miners = [
        SimMiner(uid, kind, compute_tagged_hash("hashgrad/sim/hotkey", uid.to_bytes(4, "little")))
        for uid, kind in enumerate(kinds)
    ]
    return Swarm(params, dataset, checkpoint, miners, validators, states=[ValidatorState()] * validators)


def compute_epoch_seed(base_hash: bytes, epoch: int) -> bytes:
    """Stand-in for the chain's epoch seed (which derives from the epoch-start block hash)."""
    return compute_tagged_hash("hashgrad/sim/epoch-seed", base_hash + epoch.to_bytes(8, "little"))


def run_miners(swarm: Swarm, base_hash: bytes, seed: bytes) -> tuple[list[Commit], float]:
    """Every miner's submission this epoch, in commit order, and the miners' total compute seconds."""
    return run_miner_period(
        swarm.miners,
        swarm.checkpoint,
        base_hash,
        swarm.dataset,
        seed,
        swarm.epoch,
        swarm.params,
        swarm.store,
        swarm.past_artifacts,
    )


def run_miner_period(
    miners: list,
    checkpoint: Checkpoint,
    base_hash: bytes,
    dataset: Dataset,
    seed: bytes,
    period: int,
    params: WorkParams,
    store: MemoryArtifactStore,
    past_artifacts: list[bytes],
) -> tuple[list[Commit], float]:
    """Every miner's artifact for one period (an epoch here, a round in rounds.py), stored and listed in
    commit order (copiers and replayers last), and the miners' total compute seconds. Each miner's
    error feedback carries over to its next period."""
    commits: list[Commit] = []
    revealed: list[bytes] = []  # the honest miners' artifacts, for copiers
    honest_norms: list[float] = []
    seconds = 0.0
    for miner in sorted(miners, key=lambda m: (m.kind in COMMIT_LAST, m.uid)):
        ctx = MinerContext(
            checkpoint,
            base_hash,
            dataset,
            seed,
            miner.hotkey,
            period,
            params,
            miner.ef,
            others=tuple(revealed),
            past=tuple(past_artifacts),
            norm_hint=sorted(honest_norms)[len(honest_norms) // 2] if honest_norms else 0.0,
        )
        started = time.process_time()
        output = compute_output(miner.kind, ctx)
        seconds += time.process_time() - started
        if output is None:
            continue
        miner.ef = output.ef
        store.put(output.artifact)
        if miner.kind == "honest":
            revealed.append(output.artifact)
            honest_norms.append(float(output.delta.norm()))
        commits.append(Commit(miner.uid, miner.hotkey, output.commitment, len(commits), output.artifact_id))
    return commits, seconds


def compute_recent_history(swarm: Swarm) -> tuple[torch.Tensor, ...]:
    return tuple(u for epoch in swarm.history[-swarm.params.history_epochs :] for u in epoch)


def compute_consensus_weights(swarm: Swarm, weights_u16: list[dict[int, int]]) -> dict[int, float]:
    """miner uid -> aggregation weight: the chain's epoch consensus over the validators' u16 weights
    (uids: miners, then validators with equal stake), its incentive as the chain stores it."""
    miners, n = len(swarm.miners), len(swarm.miners) + swarm.validators
    rows = [[0] * n for _ in range(n)]
    for v, row in enumerate(weights_u16):
        for uid, value in row.items():
            rows[miners + v][uid] = value
    if not any(any(row) for row in rows):
        return {}  # the chain pays nothing and keeps its bonds
    stakes = [0] * miners + [VALIDATOR_STAKE] * swarm.validators
    result = compute_job_consensus(rows, stakes, swarm.bonds or [[0] * n for _ in range(n)], swarm.job)
    swarm.bonds = [list(row) for row in result.bonds]
    incentive = compute_incentive_u16(result)
    return {uid: compute_update_weight(incentive[uid]) for uid in range(miners) if incentive[uid] > 0}


def run_validators(swarm: Swarm, base_hash: bytes, seed: bytes, commits: list[Commit]):
    """(consensus weights, first validator's report, validator compute seconds)."""
    revealed = tuple(
        Submission(c.uid, c.hotkey, c.commitment, c.commit_order, swarm.store.get(c.artifact_id)) for c in commits
    )
    reports, started = [], time.process_time()
    for v in range(swarm.validators):
        salt = compute_tagged_hash("hashgrad/sim/salt", bytes([v]) + seed)
        inputs = ScoringInputs(
            swarm.params,
            swarm.epoch,
            seed,
            salt,
            swarm.checkpoint,
            base_hash,
            swarm.dataset,
            revealed,
            compute_recent_history(swarm),
        )
        reports.append(compute_scores(inputs, swarm.states[v]))
        swarm.states[v] = reports[-1].state
    seconds = time.process_time() - started
    return compute_consensus_weights(swarm, [r.weights_u16 for r in reports]), reports[0], seconds


def run_epoch(swarm: Swarm) -> EpochRecord:
    base_hash = checkpoint_hash(encode_checkpoint(swarm.checkpoint))
    seed = compute_epoch_seed(base_hash, swarm.epoch)
    commits, miner_seconds = run_miners(swarm, base_hash, seed)
    weights, report, validator_seconds = run_validators(swarm, base_hash, seed, commits)
    by_uid = {c.uid: c for c in commits}
    updates = [
        WeightedUpdate(by_uid[uid].artifact_id, update, weights.get(uid, 0.0)) for uid, update in report.updates.items()
    ]
    result = compute_next_checkpoint(swarm.checkpoint, updates, swarm.params)
    swarm.history.append(list(report.updates.values()) + [result.step])
    swarm.past_artifacts = [swarm.store.get(artifact_id) for artifact_id in result.accepted]
    swarm.checkpoint = result.checkpoint
    record = EpochRecord(
        epoch=swarm.epoch,
        heldout_loss=compute_heldout_loss(swarm.checkpoint, swarm.dataset),
        checkpoint_hash=result.checkpoint_hash,
        weights=weights,
        reasons={v.uid: v.reason for v in report.verdicts},
        accepted=len(result.accepted),
        miner_seconds=miner_seconds,
        validator_seconds=validator_seconds,
        artifact_bytes={c.uid: len(swarm.store.get(c.artifact_id)) for c in commits},
        audited=sum(v.audited for v in report.verdicts),
        tested=sum(v.loss_test is not None for v in report.verdicts),
        audit_steps=sum(v.audit_steps for v in report.verdicts),
    )
    swarm.epoch += 1
    return record
