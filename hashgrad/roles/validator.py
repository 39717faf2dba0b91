"""The training validator process: it keeps the job's checkpoint moving and scores the miners.

Each epoch e it
  1. attests the base checkpoint of e if the chain has not recorded one: the initial checkpoint for
     the first epoch, else aggregate(base of e-1, the artifacts revealed in e-1 weighted by the
     incentive the chain's consensus gave them) — a pure function every honest node recomputes;
  2. after the work-reveal window, fetches the revealed artifacts and scores them with the work
     library's `compute_scores` (format, copies, stale bases, loss test on a sample of the miner's own
     pages drawn from a salt nobody could predict at commit time: the hash of the last block of the
     reveal window and the validator's hotkey; replay audits, which for a miner of another hardware
     class fetch its reveal through the node then: roles.reveals);
  3. publishes the evidence of its failed audits on chain, and from the middle of the weights window
     on applies every validator's evidence that re-checks (roles.evidence), then commits its weights
     (hash with a fresh salt), and reveals them in the weights-reveal window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hashgrad.chain.coordination_make import make_attest_checkpoint, make_reveal_weights
from hashgrad.chain.hashes import tagged_hash
from hashgrad.chain.jobs import JobParams, compute_epoch_start_height
from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.client import NodeClient
from hashgrad.node.replies import EpochInfo
from hashgrad.roles.common import (
    EpochClock,
    commit_weights,
    ensure_registered,
    ensure_stake,
    log,
    run_epoch_loop,
    submit_quietly,
)
from hashgrad.roles.evidence import ScoredEpoch, apply_chain_evidence, compute_commit_offset, publish_evidence
from hashgrad.roles.keys import RoleKeys
from hashgrad.roles.reveals import RevealFetcher
from hashgrad.work.aggregate import WeightedUpdate, compute_next_checkpoint, compute_update_weight
from hashgrad.work.compress import compute_layout, decompress
from hashgrad.work.data import Dataset
from hashgrad.work.hardware import CPU_FP32, Runtime
from hashgrad.work.model import Checkpoint, checkpoint_hash, decode_checkpoint
from hashgrad.work.params import WorkParams
from hashgrad.work.scoring import ScoringInputs, Submission, ValidatorState, compute_scores
from hashgrad.work.update import decode_update


@dataclass
class CommittedWeights:
    weights: tuple[tuple[int, int], ...]
    salt: bytes


@dataclass
class ValidatorMemory:
    state: ValidatorState = field(default_factory=ValidatorState)
    history: list = field(default_factory=list)  # recent dense updates, for copy and replay detection
    attested: set = field(default_factory=set)
    scored: set = field(default_factory=set)
    committed: dict = field(default_factory=dict)  # epoch -> CommittedWeights
    revealed: set = field(default_factory=set)
    pending: dict = field(default_factory=dict)  # epoch -> ScoredEpoch, scored and not yet committed


class TrainingValidator:
    def __init__(
        self,
        client: NodeClient,
        keys: RoleKeys,
        job: JobParams,
        params: WorkParams,
        dataset: Dataset,
        initial_checkpoint: bytes,
        stake: int,
        poll_s: float = 0.5,
        runtime: Runtime = CPU_FP32,
    ):
        self.client, self.keys, self.job, self.params, self.dataset = client, keys, job, params, dataset
        self.runtime = runtime  # audits replay on this device
        self.initial = initial_checkpoint
        self.stake = stake
        self.poll_s = poll_s
        self.memory = ValidatorMemory()
        self.checkpoints: dict[bytes, Checkpoint] = {}
        self.layout = compute_layout(params.model, params.chunk_size, params.topk)

    def run(self, stop) -> None:
        uid = ensure_registered(self.client, self.keys, self.job, stop)
        ensure_stake(self.client, self.keys, self.stake, stop)
        log.info("validator registered as uid %d with stake %d", uid, self.stake)
        self.client.put_artifact(self.initial)
        run_epoch_loop(self.client, self.job, self.step, stop, self.poll_s)

    def step(self, clock: EpochClock) -> None:
        job, memory, e = self.job, self.memory, clock.epoch
        self.ensure_base_attested(e)
        if job.work_reveal_end <= clock.offset < job.weights_commit_end - 1 and e not in memory.scored:
            memory.scored.add(e)
            self.score_and_commit(e)
        if e in memory.pending and clock.offset >= compute_commit_offset(job):
            self.commit_scored(e, memory.pending.pop(e))
        if clock.offset >= job.weights_commit_end and e in memory.committed and e not in memory.revealed:
            memory.revealed.add(e)
            committed = memory.committed[e]
            submit_quietly(
                "weights reveal",
                self.client.submit_built,
                make_reveal_weights,
                self.keys.hotkey,
                job.job_id,
                e,
                committed.weights,
                committed.salt,
            )

    # ------------------------------------------------------------ checkpoints
    def get_checkpoint(self, digest: bytes) -> Checkpoint:
        if digest not in self.checkpoints:
            data = self.initial if checkpoint_hash(self.initial) == digest else self.client.get_artifact(digest)
            self.checkpoints = {k: v for k, v in self.checkpoints.items() if k != digest}
            self.checkpoints[digest] = decode_checkpoint(data)
            while len(self.checkpoints) > 3:
                self.checkpoints.pop(next(iter(self.checkpoints)))
        return self.checkpoints[digest]

    def ensure_base_attested(self, epoch: int) -> None:
        if epoch in self.memory.attested:
            return
        if self.client.get_epoch(self.job.job_id, epoch).checkpoint is not None:
            self.memory.attested.add(epoch)
            return
        base_bytes = self.compute_base(epoch)
        digest = self.client.put_artifact(base_bytes)
        if submit_quietly(
            "checkpoint attestation",
            self.client.submit_built,
            make_attest_checkpoint,
            self.keys.hotkey,
            self.job.job_id,
            epoch,
            digest,
        ):
            self.memory.attested.add(epoch)
            log.info("epoch %d: attested base checkpoint %s", epoch, digest.hex()[:16])

    def compute_base(self, epoch: int) -> bytes:
        """The checkpoint every honest validator computes as the base of `epoch`."""
        previous = self.client.get_epoch(self.job.job_id, epoch - 1) if epoch > 0 else None
        if previous is None or previous.checkpoint is None:
            return self.initial
        prev_hash = previous.checkpoint
        incentive = self.get_consensus_incentive(epoch - 1)
        updates = []
        for reveal in previous.work_reveals:
            weight = incentive.get(reveal.uid, 0)
            if weight <= 0 or reveal.base_checkpoint != prev_hash:
                continue
            try:
                artifact_id = reveal.artifact_id
                _, payload = decode_update(self.client.get_artifact(artifact_id), self.params, self.layout)
            except (HashgradError, RpcError):
                continue
            updates.append(WeightedUpdate(artifact_id, decompress(payload, self.layout), compute_update_weight(weight)))
        result = compute_next_checkpoint(self.get_checkpoint(prev_hash), updates, self.params)
        self.checkpoints[result.checkpoint_hash] = result.checkpoint
        return result.checkpoint_bytes

    def get_consensus_incentive(self, epoch: int) -> dict[int, int]:
        """uid -> incentive (u16) that the chain's consensus gave in `epoch` (empty if it paid nothing)."""
        uids = self.client.get_metagraph(self.job.job_id).uids
        return {u.uid: u.incentive_u16 for u in uids if u.epoch == epoch}

    # ------------------------------------------------------------ scoring
    def score_and_commit(self, epoch: int) -> None:
        info = self.client.get_epoch(self.job.job_id, epoch)
        if info.checkpoint is None or not info.work_commits:
            return
        base = info.checkpoint
        started = time.monotonic()
        inputs = self.build_inputs(epoch, info, base)
        report = compute_scores(inputs, self.memory.state)
        seconds = time.monotonic() - started
        self.memory.state = report.state
        self.memory.history = (self.memory.history + list(report.updates.values()))[
            -4 * self.params.history_epochs * 8 :
        ]
        weights = tuple(sorted((uid, w) for uid, w in report.weights_u16.items() if w > 0))
        reasons = {v.uid: v.reason for v in report.verdicts}
        log.info("epoch %d: scores %s verdicts %s (scored in %.1f s)", epoch, dict(weights), reasons, seconds)
        for v in report.verdicts:
            if v.audited:
                log.info(
                    "epoch %d: uid %d audit %s after %d replayed steps (first diverging step %s)",
                    epoch,
                    v.uid,
                    "failed" if v.reason in ("audit-failed", "audit-evidence") else "passed",
                    v.audit_steps,
                    v.diverged_at,
                )
        for v in report.verdicts:
            if v.loss_test is not None:
                t = v.loss_test
                log.info(
                    "epoch %d: uid %d loss test own %.4f rand %.4f (se %.4f, %d windows) significant %s "
                    "own-data excess %.4f (se %.4f) score %.4f",
                    epoch,
                    v.uid,
                    t.s_own,
                    t.s_rand,
                    t.rand_stderr,
                    t.rand_windows,
                    t.significant,
                    t.excess,
                    t.diff_stderr,
                    v.score,
                )
        publish_evidence(self.client, self.keys, self.job.job_id, epoch, report.evidence)
        self.memory.pending = {epoch: ScoredEpoch(report, inputs)}

    def commit_scored(self, epoch: int, scored: ScoredEpoch) -> None:
        """Apply the evidence others published on chain, then commit the weights."""
        report = apply_chain_evidence(self.client, self.job, epoch, scored.report, scored.inputs)
        self.memory.state = report.state
        weights = tuple(sorted((uid, w) for uid, w in report.weights_u16.items() if w > 0))
        if not weights:
            return
        salt = commit_weights(self.client, self.keys, self.job.job_id, epoch, weights)
        if salt is not None:
            self.memory.committed[epoch] = CommittedWeights(weights, salt)
            log.info("epoch %d: committed weights %s", epoch, dict(weights))

    def build_inputs(self, epoch: int, info: EpochInfo, base: bytes) -> ScoringInputs:
        hotkeys = {u.uid: u.hotkey for u in self.client.get_metagraph(self.job.job_id).uids}
        reveals = {r.uid: r.artifact_id for r in info.work_reveals}
        commits = sorted(info.work_commits, key=lambda c: (c.height, c.uid))
        submissions = []
        for order, commit in enumerate(commits):
            uid = commit.uid
            artifact = None
            if uid in reveals:
                try:
                    artifact = self.client.get_artifact(reveals[uid])
                except (HashgradError, RpcError):
                    artifact = None
            submissions.append(Submission(uid, hotkeys[uid], commit.commitment, order, artifact))
        salt_block = compute_epoch_start_height(epoch, self.job.tempo) + self.job.work_reveal_end - 1
        salt = tagged_hash("hashgrad/validator-salt", self.client.get_block_hash(salt_block) + self.keys.hotkey.pubkey)
        return ScoringInputs(
            self.params,
            epoch,
            info.seed,
            salt,
            self.get_checkpoint(base),
            base,
            self.dataset,
            tuple(submissions),
            tuple(self.memory.history),
            self.runtime,
            fetch_reveal=RevealFetcher(self.client, self.params, epoch),  # lazy: only audited updates of another class
        )
