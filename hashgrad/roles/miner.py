"""The training miner process: each epoch, fetch the base checkpoint recorded on chain, train on its
own pages (drawn from the epoch seed and its hotkey), compress the pseudo-gradient with error
feedback, store it as an artifact on its node, commit its hash, then reveal it in the reveal window.

Adversarial kinds (lazy, noise, copycat, replay, poisoner, sandbagger) run the same loop with the
work library's adversary in place of honest training; a copycat or replayer copies artifacts revealed
in the previous epoch (commitments hide this epoch's until the commit window has closed).
"""

from __future__ import annotations

from dataclasses import dataclass

from hashgrad.chain.coordination_make import make_commit_work, make_reveal_work
from hashgrad.chain.jobs import JobParams
from hashgrad.errors import HashgradError, RpcError, WorkError
from hashgrad.node.client import NodeClient
from hashgrad.roles.common import EpochClock, ensure_registered, log, run_epoch_loop, submit_quietly
from hashgrad.roles.keys import RoleKeys
from hashgrad.work.adversaries import MinerContext, compute_output
from hashgrad.work.data import Dataset
from hashgrad.work.distributed import STOP_EPOCH, broadcast_bytes, broadcast_epoch
from hashgrad.work.hardware import CPU_FP32, Runtime
from hashgrad.work.job_model import compute_job_params
from hashgrad.work.model import Checkpoint, checkpoint_hash, decode_checkpoint
from hashgrad.work.params import WorkParams

COMMIT_MARGIN = 2  # blocks kept free before the commit window closes, for the commit to be mined


@dataclass
class PendingReveal:
    epoch: int
    artifact_id: bytes
    base: bytes


class TrainingMiner:
    def __init__(
        self,
        client: NodeClient,
        keys: RoleKeys,
        job: JobParams,
        params: WorkParams,
        dataset: Dataset,
        kind: str = "honest",
        poll_s: float = 0.5,
        runtime: Runtime = CPU_FP32,
        shard: dict | None = None,
    ):
        self.client, self.keys, self.job, self.params, self.dataset = client, keys, job, params, dataset
        self.runtime = runtime  # device and precision; the update declares their hardware class
        self.shard = shard or {}  # data-parallel (torchrun): this is rank 0, the others follow (run_follower)
        self.kind = kind
        self.poll_s = poll_s
        self.ef = None
        self.pending: PendingReveal | None = None
        self.last_epoch: int | None = None
        self.checkpoints: dict[bytes, Checkpoint] = {}

    def run(self, stop) -> None:
        uid = ensure_registered(self.client, self.keys, self.job, stop)
        log.info("miner %s registered as uid %d on job %d", self.kind, uid, self.job.job_id)
        try:
            run_epoch_loop(self.client, self.job, self.step, stop, self.poll_s)
        finally:
            self.close()

    def step(self, clock: EpochClock) -> None:
        job = self.job
        if (
            self.pending
            and self.pending.epoch == clock.epoch
            and job.work_commit_end <= clock.offset < job.work_reveal_end
        ):
            self.reveal()
        elif clock.epoch != self.last_epoch and clock.offset < job.work_commit_end - COMMIT_MARGIN:
            self.work(clock.epoch)

    def get_checkpoint(self, base: bytes) -> Checkpoint:
        if base not in self.checkpoints:
            self.checkpoints = {base: decode_checkpoint(self.client.get_artifact(base))}
        return self.checkpoints[base]

    def get_previous_artifacts(self, epoch: int) -> tuple[bytes, ...]:
        if epoch == 0:
            return ()
        reveals = self.client.get_epoch(self.job.job_id, epoch - 1).work_reveals
        artifacts = []
        for reveal in reveals:
            try:
                artifacts.append(self.client.get_artifact(reveal.artifact_id))
            except (HashgradError, RpcError):
                continue
        return tuple(artifacts)

    def work(self, epoch: int) -> None:
        info = self.client.get_epoch(self.job.job_id, epoch)
        if info.checkpoint is None or info.seed is None:
            return  # the base of this epoch is not recorded yet: poll again
        base = info.checkpoint
        checkpoint = self.get_checkpoint(base)  # may fail while the checkpoint propagates: retried next poll
        self.params = compute_job_params(self.params, checkpoint, self.dataset)  # the job's model family and sizes
        self.last_epoch = epoch
        copied = self.get_previous_artifacts(epoch) if self.kind in ("copycat", "replay") else ()
        if self.shard:  # the other processes train with us, on the checkpoint's bytes sent to them
            broadcast_epoch(epoch, info.seed, base)
            broadcast_bytes(checkpoint.to_bytes())
        ctx = MinerContext(
            checkpoint,
            base,
            self.dataset,
            info.seed,
            self.keys.hotkey.pubkey,
            epoch,
            self.params,
            self.ef,
            others=copied,
            past=copied,
            runtime=self.runtime,
            shard=self.shard,
        )
        output = compute_output(self.kind, ctx)
        if output is None:
            log.info("epoch %d: %s miner has nothing to submit", epoch, self.kind)
            return
        self.ef = output.ef
        artifact_id = self.client.put_artifact(output.artifact)
        if submit_quietly(
            "work commit",
            self.client.submit_built,
            make_commit_work,
            self.keys.hotkey,
            self.job.job_id,
            epoch,
            artifact_id,
            base,
        ):
            self.pending = PendingReveal(epoch, artifact_id, base)
            log.info("epoch %d: committed artifact %s (%d bytes)", epoch, artifact_id.hex()[:16], len(output.artifact))

    def close(self) -> None:
        if self.shard:
            broadcast_epoch()  # STOP_EPOCH: the followers leave

    def reveal(self) -> None:
        pending, self.pending = self.pending, None
        if submit_quietly(
            "work reveal",
            self.client.submit_built,
            make_reveal_work,
            self.keys.hotkey,
            self.job.job_id,
            pending.epoch,
            pending.artifact_id,
            pending.base,
        ):
            log.info("epoch %d: revealed %s", pending.epoch, pending.artifact_id.hex()[:16])


def run_follower(keys: RoleKeys, params: WorkParams, dataset: Dataset, runtime: Runtime, shard: dict) -> None:
    """Ranks 1..N-1 of a data-parallel miner: train each epoch rank 0 announces, on their rows of
    each batch, and leave when it stops. Rank 0 sends them the base checkpoint (checked against its
    hash here): they do not call the node."""
    ef = None
    while True:
        epoch, seed, base = broadcast_epoch()
        if epoch == STOP_EPOCH:
            return
        data = broadcast_bytes()
        if checkpoint_hash(data) != base:
            raise WorkError("bad-broadcast", f"epoch {epoch}: the checkpoint rank 0 sent is not {base.hex()}")
        checkpoint = decode_checkpoint(data)
        params = compute_job_params(params, checkpoint, dataset)  # as rank 0: the checkpoint's model
        ctx = MinerContext(
            checkpoint, base, dataset, seed, keys.hotkey.pubkey, epoch, params, ef, runtime=runtime, shard=shard
        )
        ef = compute_output("honest", ctx).ef
        log.info("epoch %d: rank %d of %d trained its rows", epoch, *shard["shard"])
