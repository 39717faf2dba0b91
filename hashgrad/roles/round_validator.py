"""The training validator of a job with rounds inside its epochs (roles/rounds.py tells the protocol).

On top of the one-round validator's rhythm (attest the base, commit then reveal weights per epoch):
  - as soon as a round closes it computes the round's checkpoint (the same pure rule the miners run),
    stores it on its node (late joiners fetch it by hash), runs the public checks on the round's
    artifacts and, for a salted share of the rounds (`score_fraction`, at least one per epoch), scores
    them with `compute_scores` (salted by the block that closed the round); the round weights add up
    per miner, and a miner the public checks flag in any round scores 0 for the epoch;
  - after the reveal window it keeps only miners whose revealed manifest lists exactly the artifacts
    they announced, normalises, and commits the epoch's weights (Yuma runs on chain, per epoch);
  - the next epoch's base is the epoch's last round aggregated with this epoch's consensus, over the
    last round's artifacts that the manifests on chain name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hashgrad.chain.hashes import tagged_hash
from hashgrad.chain.jobs import compute_round_close_height, get_rounds_per_epoch
from hashgrad.incentive.convert import compute_weights_from_scores
from hashgrad.roles.common import EpochClock, commit_weights, log
from hashgrad.roles.evidence import publish_evidence
from hashgrad.roles.rounds import (
    RoundChain,
    build_round_inputs,
    compute_global_round,
    compute_next_round_checkpoint,
    compute_round_salt,
    fetch_round_artifacts,
    get_consensus,
    get_revealed_manifests,
    get_round_base,
)
from hashgrad.roles.validator import CommittedWeights, TrainingValidator
from hashgrad.work.model import encode_checkpoint
from hashgrad.work.rounds import compute_round_checks, compute_round_seed, compute_validator_row
from hashgrad.work.scoring import compute_scores


@dataclass
class RoundTally:
    """One epoch's round scores as this validator gathered them."""

    sums: dict[int, float] = field(default_factory=dict)  # uid -> round weights summed
    flagged: set[int] = field(default_factory=set)  # uids a public check failed in some round
    announced: dict[int, dict[int, bytes]] = field(default_factory=dict)  # round -> uid -> artifact id
    tested: int = 0  # rounds loss-tested
    evidence: list = field(default_factory=list)  # failed audits' records, published once the manifests are revealed


def is_round_tested(salt: bytes, fraction: float) -> bool:
    """Whether a validator loss-tests a round: drawn with probability `fraction` from its salt for the
    round (the block that closed it and its hotkey, so no miner knows it while it can still announce);
    a validator that drew none by the epoch's last round tests that one."""
    return int.from_bytes(tagged_hash("hashgrad/round-tested", salt)[:8], "big") < fraction * 2**64


class RoundValidator(TrainingValidator):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rounds = get_rounds_per_epoch(self.job)
        self.chain = RoundChain()
        self.round_scored: set[tuple[int, int]] = set()
        self.tallies: dict[int, RoundTally] = {}

    def step(self, clock: EpochClock) -> None:
        super().step(clock)  # attest the base, commit and reveal the epoch's weights
        self.score_closed_rounds(clock.epoch, clock.height)
        # scoring the last round may have run into the weights window: commit now if it is still open
        now, job, e = EpochClock.read(self.client, self.job), self.job, clock.epoch
        in_window = now.epoch == e and job.work_reveal_end <= now.offset < job.weights_commit_end
        if in_window and e not in self.memory.scored:
            self.memory.scored.add(e)
            self.score_and_commit(e)

    # ------------------------------------------------------------ rounds as they close
    def score_closed_rounds(self, epoch: int, tip_height: int) -> None:
        for r in range(self.rounds):
            if (epoch, r) in self.round_scored:
                continue
            if tip_height < compute_round_close_height(self.job, epoch, r):
                return
            info = self.client.get_epoch(self.job.job_id, epoch)
            if info.checkpoint is None or info.seed is None:
                return
            self.round_scored.add((epoch, r))
            self.score_round(epoch, r, info.checkpoint, info.seed)

    def score_round(self, epoch: int, r: int, epoch_base: bytes, epoch_seed: bytes) -> None:
        params, job = self.params, self.job
        base_hash, start = get_round_base(
            self.client,
            job,
            params,
            self.dataset,
            self.chain,
            epoch,
            r,
            (epoch_base, self.get_checkpoint(epoch_base)),
            epoch_seed,
        )
        if r > 0:
            self.client.put_artifact(encode_checkpoint(start))  # served by hash: late joiners, the live view
        artifacts = fetch_round_artifacts(self.client, job.job_id, epoch, r)
        tally = self.tallies.setdefault(epoch, RoundTally())
        tally.announced[r] = {a.uid: a.artifact_id for a in artifacts}
        if not artifacts:
            return
        global_round, seed = compute_global_round(epoch, r, self.rounds), compute_round_seed(epoch_seed, r)
        public = build_round_inputs(params, global_round, seed, bytes(32), start, base_hash, self.dataset, artifacts)
        _, flags = compute_round_checks(public)
        tally.flagged |= set(flags)
        salt = compute_round_salt(self.client, job, epoch, r, self.keys.hotkey.pubkey)
        if not is_round_tested(salt, params.score_fraction) and (tally.tested or r < self.rounds - 1):
            log.info("epoch %d round %d: public checks only (not drawn for a loss test), flags %s", epoch, r, flags)
            return
        tally.tested += 1
        inputs = replace(
            public, salt=salt, history=tuple(self.memory.history), runtime=self.runtime, cross_class_audits=False
        )
        report = compute_scores(inputs, self.memory.state)
        self.memory.state = report.state
        self.memory.history = (self.memory.history + list(report.updates.values()))[-4 * params.history_epochs * 8 :]
        for uid, weight in report.weights.items():
            tally.sums[uid] = tally.sums.get(uid, 0.0) + weight
        log.info(
            "epoch %d round %d: scores %s verdicts %s",
            epoch,
            r,
            {uid: round(w, 4) for uid, w in sorted(report.weights.items())},
            {v.uid: v.reason for v in report.verdicts},
        )
        tally.evidence.extend(report.evidence)

    # ------------------------------------------------------------ once per epoch
    def score_and_commit(self, epoch: int) -> None:
        self.score_closed_rounds(epoch, self.client.get_block_count())
        tally = self.tallies.pop(epoch, None)
        if tally is None:
            return
        if tally.evidence:  # the chain takes evidence against miners that revealed this epoch (their manifests)
            publish_evidence(self.client, self.keys, self.job.job_id, epoch, tuple(tally.evidence))
        manifests = get_revealed_manifests(self.client, self.job, epoch)
        honest = {
            uid
            for uid, manifest in manifests.items()
            if all(manifest.get_artifact(r) == by_uid[uid] for r, by_uid in tally.announced.items() if uid in by_uid)
        }
        row = compute_validator_row({uid: w for uid, w in tally.sums.items() if uid in honest}, tally.flagged)
        if not row:
            return
        weights = compute_weights_from_scores(row)
        log.info(
            "epoch %d: weights %s over %d rounds (flagged %s)", epoch, dict(weights), self.rounds, sorted(tally.flagged)
        )
        salt = commit_weights(self.client, self.keys, self.job.job_id, epoch, weights)
        if salt is not None:
            self.memory.committed[epoch] = CommittedWeights(weights, salt)

    def compute_base(self, epoch: int) -> bytes:
        """The last round of epoch - 1 aggregated with epoch - 1's consensus, over the artifacts the
        revealed manifests name."""
        previous = self.client.get_epoch(self.job.job_id, epoch - 1) if epoch > 0 else None
        if previous is None or previous.checkpoint is None or previous.seed is None:
            return self.initial
        last = self.rounds - 1
        if self.chain.epoch != epoch - 1 or last not in self.chain.bases:
            # not followed as they closed (a restart, or blocks made in a burst): recomputed now from the
            # announcements, with the consensus the metagraph still shows for epoch - 2 (none once epoch
            # - 1 has paid: then every artifact that passes the public checks is aggregated)
            log.warning("epoch %d: rounds of epoch %d recomputed after the fact", epoch, epoch - 1)
        prev_hash, prev = get_round_base(
            self.client,
            self.job,
            self.params,
            self.dataset,
            self.chain,
            epoch - 1,
            last,
            (previous.checkpoint, self.get_checkpoint(previous.checkpoint)),
            previous.seed,
        )
        manifests = get_revealed_manifests(self.client, self.job, epoch - 1)
        artifacts = [
            a
            for a in fetch_round_artifacts(self.client, self.job.job_id, epoch - 1, last)
            if a.uid in manifests and manifests[a.uid].get_artifact(last) == a.artifact_id
        ]
        public = build_round_inputs(
            self.params,
            compute_global_round(epoch - 1, last, self.rounds),
            compute_round_seed(previous.seed, last),
            bytes(32),
            prev,
            prev_hash,
            self.dataset,
            artifacts,
        )
        result = compute_next_round_checkpoint(
            public, artifacts, get_consensus(self.client, self.job.job_id, epoch - 1)
        )
        log.info(
            "epoch %d: base from the last round of epoch %d: %d of %d artifacts aggregated",
            epoch,
            epoch - 1,
            len(result.accepted),
            len(artifacts),
        )
        self.checkpoints[result.checkpoint_hash] = result.checkpoint
        return result.checkpoint_bytes
