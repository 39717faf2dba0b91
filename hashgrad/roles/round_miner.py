"""The training miner of a job with rounds inside its epochs (roles/rounds.py tells the protocol).

Each poll: in the reveal window, reveal the epoch's round manifest; before the commit window closes,
train the first open round it has not trained (from that round's checkpoint, which it computes from
the closed rounds before it), store the artifact on its node and announce it signed; once its last
round is announced, store its manifest and commit the manifest's id, the one work commitment of the
epoch. A miner whose last round would end after the commit window (judged by how long its previous
round took) commits the rounds it has instead. Adversarial kinds run the same loop (a copycat or
replayer copies last round's artifacts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hashgrad.chain.coordination_make import make_commit_work
from hashgrad.chain.jobs import get_rounds_per_epoch
from hashgrad.errors import HashgradError, RpcError
from hashgrad.p2p.rounds import make_announcement
from hashgrad.roles.common import EpochClock, log, submit_quietly
from hashgrad.roles.miner import COMMIT_MARGIN, PendingReveal, TrainingMiner
from hashgrad.roles.rounds import (
    RoundChain,
    compute_global_round,
    fetch_round_artifacts,
    get_open_round,
    get_round_base,
)
from hashgrad.work.adversaries import MinerContext, compute_output
from hashgrad.work.distributed import broadcast_bytes, broadcast_epoch
from hashgrad.work.job_model import compute_job_params
from hashgrad.work.round_manifest import RoundManifest, encode_manifest
from hashgrad.work.rounds import compute_round_seed


@dataclass
class EpochRounds:
    """What this miner did in one epoch: the rounds it announced and whether it committed."""

    epoch: int
    next_round: int = 0
    announced: list[tuple[int, bytes]] = field(default_factory=list)  # (round, artifact id)
    committed: bool = False


class RoundMiner(TrainingMiner):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rounds = get_rounds_per_epoch(self.job)
        self.chain = RoundChain()
        self.current: EpochRounds | None = None
        self.round_seconds = 0.0  # how long this miner's last round took (wall clock)

    def step(self, clock: EpochClock) -> None:
        job = self.job
        if (
            self.pending
            and self.pending.epoch == clock.epoch
            and job.work_commit_end <= clock.offset < job.work_reveal_end
        ):
            self.reveal()
            return
        if clock.offset >= job.work_commit_end:
            return
        if self.current is None or self.current.epoch != clock.epoch:
            self.current = EpochRounds(clock.epoch)
        current = self.current
        open_round = get_open_round(job, clock.epoch, clock.height)
        if current.next_round <= open_round < self.rounds and self.is_too_late(clock, open_round):
            log.info(
                "epoch %d: round %d would end after the commit window: committing what it has", clock.epoch, open_round
            )
            current.next_round = self.rounds  # what is announced is committed now rather than lost
        elif current.next_round <= open_round < self.rounds:
            started = time.monotonic()
            self.train_round(clock.epoch, open_round)
            self.round_seconds = time.monotonic() - started
        if current.next_round >= self.rounds and current.announced and not current.committed:
            if EpochClock.read(self.client, job).offset < job.work_commit_end:  # training may have run past it
                self.commit_manifest(current)

    def is_too_late(self, clock: EpochClock, round_index: int) -> bool:
        """Whether training the epoch's last round (as long as the previous took) would end after the
        commit window, which would lose the manifest of the rounds already announced."""
        if round_index < self.rounds - 1 or not self.current.announced:
            return False
        # the commit must be mined before the window closes: COMMIT_MARGIN blocks, as one-round miners keep
        left = (self.job.work_commit_end - COMMIT_MARGIN - clock.offset) * self.client.params.block_interval_s
        return self.round_seconds > left

    def train_round(self, epoch: int, round_index: int) -> None:
        info = self.client.get_epoch(self.job.job_id, epoch)
        if info.checkpoint is None or info.seed is None:
            return  # the base of this epoch is not recorded yet: poll again
        checkpoint = self.get_checkpoint(info.checkpoint)
        self.params = compute_job_params(self.params, checkpoint, self.dataset)
        base, start = get_round_base(
            self.client,
            self.job,
            self.params,
            self.dataset,
            self.chain,
            epoch,
            round_index,
            (info.checkpoint, checkpoint),
            info.seed,
        )
        seed = compute_round_seed(info.seed, round_index)
        global_round = compute_global_round(epoch, round_index, self.rounds)
        copied = ()
        if self.kind in ("copycat", "replay") and round_index > 0:
            copied = tuple(a.data for a in fetch_round_artifacts(self.client, self.job.job_id, epoch, round_index - 1))
        if self.shard:  # the other ranks train with us, on the round checkpoint's bytes sent to them
            broadcast_epoch(global_round, seed, base)
            broadcast_bytes(start.to_bytes())
        ctx = MinerContext(
            start,
            base,
            self.dataset,
            seed,
            self.keys.hotkey.pubkey,
            global_round,
            self.params,
            self.ef,
            others=copied,
            past=copied,
            runtime=self.runtime,
            shard=self.shard,
        )
        output = compute_output(self.kind, ctx)
        self.current.next_round = round_index + 1  # trained (a failure before this point is retried)
        if output is None:
            log.info("epoch %d round %d: %s miner has nothing to submit", epoch, round_index, self.kind)
            return
        self.ef = output.ef
        artifact_id = self.client.put_artifact(output.artifact)
        try:
            self.client.announce_round(
                make_announcement(self.keys.hotkey, self.job.job_id, epoch, round_index, artifact_id)
            )
        except (HashgradError, RpcError) as exc:
            log.warning("epoch %d round %d: announcement refused: %s", epoch, round_index, exc)
            return
        self.current.announced.append((round_index, artifact_id))
        log.info(
            "epoch %d round %d: announced artifact %s (%d bytes) on base %s",
            epoch,
            round_index,
            artifact_id.hex()[:16],
            len(output.artifact),
            base.hex()[:16],
        )

    def commit_manifest(self, current: EpochRounds) -> None:
        current.committed = True
        info = self.client.get_epoch(self.job.job_id, current.epoch)
        manifest = RoundManifest(self.job.job_id, current.epoch, self.keys.hotkey.pubkey, tuple(current.announced))
        manifest_id = self.client.put_artifact(encode_manifest(manifest))
        if submit_quietly(
            "work commit",
            self.client.submit_built,
            make_commit_work,
            self.keys.hotkey,
            self.job.job_id,
            current.epoch,
            manifest_id,
            info.checkpoint,
        ):
            self.pending = PendingReveal(current.epoch, manifest_id, info.checkpoint)
            log.info(
                "epoch %d: committed round manifest %s (%d rounds, root %s)",
                current.epoch,
                manifest_id.hex()[:16],
                len(current.announced),
                manifest.root.hex()[:16],
            )
