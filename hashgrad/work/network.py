"""An in-process network paid as the chain pays it: miners, validators with stake, Yuma consensus.

`swarm.py` drives miners and validators and averages the validators' weights; this shell goes one
step further, to what the chain computes at the end of an epoch (chain/epoch.py):

    each validator scores the epoch (scoring.compute_scores) and publishes its failed-audit records;
    every validator re-checks the records published that epoch and zeroes the convicted miners;
    the validators' u16 weight rows form the weight matrix; the chain's epoch computation
    (chain/job_epoch.py: permits by stake, then Yuma with the job's parameters) turns it, the stake and last
    epoch's bonds into
    incentive (miners' pay) and dividends (validators' pay); the next checkpoint aggregates the
    updates by incentive, as roles/validator.py does.

Miners are adversaries.KINDS or graded-effort miners (graded.Effort). A validator may be a weight
copier: under commit-reveal it only sees the weights revealed for the previous epoch, so it sets
last epoch's consensus as its own. Miners hold no stake (no validator permit), validators do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from hashgrad.chain.job_epoch import compute_incentive_u16, compute_job_consensus
from hashgrad.chain.jobs import JobParams
from hashgrad.incentive.fixed import ONE
from hashgrad.store.artifacts import MemoryArtifactStore
from hashgrad.work.adversaries import MinerContext, compute_output
from hashgrad.work.aggregate import WeightedUpdate, compute_next_checkpoint, compute_update_weight
from hashgrad.work.audit_evidence import AuditEvidence
from hashgrad.work.data import Dataset
from hashgrad.work.evaluate import compute_heldout_loss
from hashgrad.work.graded import Effort, compute_graded_output
from hashgrad.work.hashing import compute_tagged_hash
from hashgrad.work.model import Checkpoint, checkpoint_hash, encode_checkpoint
from hashgrad.work.params import WorkParams
from hashgrad.work.scoring import (
    ScoreReport,
    ScoringInputs,
    Submission,
    ValidatorState,
    apply_audit_evidence,
    compute_scores,
)
from hashgrad.work.swarm import COMMIT_LAST, compute_epoch_seed
from hashgrad.work.update import compute_artifact_id

U16_MAX = 65535


@dataclass
class NetMiner:
    uid: int
    hotkey: bytes
    kind: str = "honest"  # an adversaries.KINDS entry; ignored when `effort` is set
    effort: Effort | None = None
    ef: torch.Tensor | None = None
    sandbag_fraction: float = 0.25


@dataclass
class NetValidator:
    uid: int
    hotkey: bytes
    stake: int
    copier: bool = False
    state: ValidatorState = field(default_factory=ValidatorState)


@dataclass
class Network:
    params: WorkParams
    dataset: Dataset
    checkpoint: Checkpoint
    miners: list[NetMiner]
    validators: list[NetValidator]
    job: JobParams = field(default_factory=lambda: JobParams(0, "fidelity", "training"))
    share_evidence: bool = True
    store: MemoryArtifactStore = field(default_factory=MemoryArtifactStore)
    history: list[list[torch.Tensor]] = field(default_factory=list)
    past_artifacts: list[bytes] = field(default_factory=list)
    bonds: list[list[int]] | None = None
    consensus: list[int] = field(default_factory=list)  # last epoch's consensus weights (I32F32)
    epoch: int = 0

    @property
    def n(self) -> int:
        return len(self.miners) + len(self.validators)


@dataclass
class NetworkEpoch:
    epoch: int
    incentive: dict[int, float]  # uid -> share of the miners' pay
    dividends: dict[int, float]  # uid -> share of the validators' pay
    reports: list[ScoreReport]  # honest validators' reports, in validator order
    inputs: ScoringInputs  # what the first honest validator scored (for re-running parts of the test)
    evidence: tuple[AuditEvidence, ...]
    heldout_loss: float
    accepted: int


def build_network(
    params: WorkParams,
    dataset: Dataset,
    checkpoint: Checkpoint,
    miners: list[NetMiner],
    validators: list[tuple[int, bool]],
    share_evidence: bool = True,
) -> Network:
    """Miners take uids 0..M-1; validators (stake, copier?) take the uids after them."""
    vals = [
        NetValidator(len(miners) + i, compute_tagged_hash("hashgrad/net/validator", bytes([i])), stake, copier)
        for i, (stake, copier) in enumerate(validators)
    ]
    return Network(params, dataset, checkpoint, miners, vals, share_evidence=share_evidence)


def make_miner(uid: int, kind: str = "honest", effort: Effort | None = None, **extra) -> NetMiner:
    return NetMiner(uid, compute_tagged_hash("hashgrad/sim/hotkey", uid.to_bytes(4, "little")), kind, effort, **extra)


def run_network_miners(net: Network, base_hash: bytes, seed: bytes) -> list[Submission]:
    submissions: list[Submission] = []
    revealed: list[bytes] = []  # the honest miners' artifacts, for copiers
    honest_norms: list[float] = []
    ordered = sorted(net.miners, key=lambda m: (m.effort is None and m.kind in COMMIT_LAST, m.uid))
    for miner in ordered:
        ctx = MinerContext(
            net.checkpoint,
            base_hash,
            net.dataset,
            seed,
            miner.hotkey,
            net.epoch,
            net.params,
            miner.ef,
            others=tuple(revealed),
            past=tuple(net.past_artifacts),
            norm_hint=sorted(honest_norms)[len(honest_norms) // 2] if honest_norms else 0.0,
            sandbag_fraction=miner.sandbag_fraction,
        )
        output = compute_graded_output(ctx, miner.effort) if miner.effort else compute_output(miner.kind, ctx)
        if output is None:
            continue
        miner.ef = output.ef
        net.store.put(output.artifact)
        if miner.effort is None and miner.kind == "honest":
            revealed.append(output.artifact)
            honest_norms.append(float(output.delta.norm()))
        submissions.append(Submission(miner.uid, miner.hotkey, output.commitment, len(submissions), output.artifact))
    return submissions


def run_network_validators(
    net: Network, base_hash: bytes, seed: bytes, submissions: list[Submission], forced: dict[int, frozenset[bytes]]
):
    """Score twice where needed: first each honest validator alone, then, once the epoch's
    failed-audit records are out, again with them (each validator re-checks every record).
    Returns (reports, the epoch's records, the first validator's inputs)."""
    history = tuple(u for epoch in net.history[-net.params.history_epochs :] for u in epoch)
    honest = [v for v in net.validators if not v.copier]
    inputs = [
        ScoringInputs(
            net.params,
            net.epoch,
            seed,
            compute_tagged_hash("hashgrad/sim/salt", bytes([i]) + seed),
            net.checkpoint,
            base_hash,
            net.dataset,
            tuple(submissions),
            history,
            forced_audits=forced.get(i, frozenset()),
        )
        for i, v in enumerate(honest)
    ]
    reports = [compute_scores(inp, v.state) for inp, v in zip(inputs, honest)]
    evidence = tuple(e for r in reports for e in r.evidence)
    if evidence and net.share_evidence:
        reports = [
            apply_audit_evidence(r, inp, tuple(e for e in evidence if e not in r.evidence))
            for inp, r in zip(inputs, reports)
        ]
    for v, r in zip(honest, reports):
        v.state = r.state
    return reports, evidence, inputs[0]


def compute_weight_rows(net: Network, reports: list[ScoreReport]) -> list[list[int]]:
    """The epoch's n x n u16 weight matrix as the chain would hold it after the reveals."""
    rows, honest = [[0] * net.n for _ in range(net.n)], iter(reports)
    for v in net.validators:
        if v.copier:
            best = max(net.consensus[: len(net.miners)], default=0)
            if best > 0:
                rows[v.uid][: len(net.miners)] = [c * U16_MAX // best for c in net.consensus[: len(net.miners)]]
        else:
            for uid, w in next(honest).weights_u16.items():
                rows[v.uid][uid] = w
    return rows


def run_network_epoch(net: Network, forced: dict[int, frozenset[bytes]] | None = None) -> NetworkEpoch:
    """One epoch; `forced` maps an honest validator's index to hotkeys it audits in full this epoch."""
    base_hash = checkpoint_hash(encode_checkpoint(net.checkpoint))
    seed = compute_epoch_seed(base_hash, net.epoch)
    submissions = run_network_miners(net, base_hash, seed)
    reports, evidence, inputs = run_network_validators(net, base_hash, seed, submissions, forced or {})
    weights = compute_weight_rows(net, reports)
    stake = [0] * len(net.miners) + [v.stake for v in net.validators]
    bonds = net.bonds if net.bonds is not None else [[0] * net.n for _ in range(net.n)]  # none yet: all zero
    result = compute_job_consensus(weights, stake, bonds, net.job)  # the chain's own epoch computation
    net.bonds = [list(row) for row in result.bonds]
    net.consensus = list(result.consensus)
    incentive = {uid: result.incentive[uid] / ONE for uid in range(net.n) if result.incentive[uid]}
    dividends = {uid: result.dividends[uid] / ONE for uid in range(net.n) if result.dividends[uid]}
    artifacts = {s.uid: s.artifact for s in submissions if s.artifact is not None}  # all: each comes from a MinerOutput
    stored = compute_incentive_u16(result)  # aggregated by the incentive as the chain stores it
    updates = [
        WeightedUpdate(compute_artifact_id(artifacts[uid]), update, compute_update_weight(stored[uid]))
        for uid, update in reports[0].updates.items()
    ]
    aggregated = compute_next_checkpoint(net.checkpoint, updates, net.params)
    net.history.append(list(reports[0].updates.values()) + [aggregated.step])
    accepted = set(aggregated.accepted)
    net.past_artifacts = [
        artifacts[uid] for uid in reports[0].updates if compute_artifact_id(artifacts[uid]) in accepted
    ]
    net.checkpoint = aggregated.checkpoint
    record = NetworkEpoch(
        net.epoch,
        incentive,
        dividends,
        reports,
        inputs,
        evidence,
        compute_heldout_loss(net.checkpoint, net.dataset),
        len(accepted),
    )
    net.epoch += 1
    return record
