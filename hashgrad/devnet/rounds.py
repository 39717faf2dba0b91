"""The devnet monitor's view of rounds inside epochs: a closed round's checkpoint, recomputed from the
signed announcements with the rule every miner and validator runs (roles/rounds.py), and its held-out
loss. Kept apart from monitor.py so that importing the monitor loads no torch."""

from __future__ import annotations

from hashgrad.devnet.monitor import DevnetMonitor, RoundResult
from hashgrad.roles.common import get_work_overrides, get_work_preset
from hashgrad.roles.rounds import RoundChain, get_round_base
from hashgrad.work.evaluate import compute_heldout_loss
from hashgrad.work.job_model import compute_job_params
from hashgrad.work.model import decode_checkpoint
from hashgrad.work.params import get_preset


def compute_round_result(monitor: DevnetMonitor, epoch: int, round_index: int, base: bytes, seed: bytes) -> RoundResult:
    """Round `round_index` of `epoch` (closed): the checkpoint after it and that checkpoint's loss."""
    client, job = monitor.client, monitor.client.params.jobs[monitor.job_id]
    if not isinstance(monitor.round_chain, RoundChain):
        monitor.round_chain = RoundChain()
    chain = monitor.round_chain
    checkpoint = chain.bases[0][1] if chain.epoch == epoch else decode_checkpoint(client.get_artifact(base))
    if monitor.work_params is None:
        preset = get_preset(get_work_preset(job), job_id=job.job_id, **get_work_overrides(job))
        monitor.work_params = compute_job_params(preset, checkpoint, monitor.dataset)
    params = monitor.work_params
    digest, after = get_round_base(
        client, job, params, monitor.dataset, chain, epoch, round_index + 1, (base, checkpoint), seed
    )
    loss = compute_heldout_loss(after, monitor.dataset)
    monitor.losses[digest.hex()] = loss
    announced = len(client.list_round_artifacts(job.job_id, epoch, round_index))
    return RoundResult(epoch, round_index, digest.hex(), loss, announced)
