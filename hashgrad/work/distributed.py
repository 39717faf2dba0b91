"""A miner that scales inside itself: data-parallel inner steps with torch.distributed (DDP).

Started with `torchrun --nproc-per-node N ...`: every process runs the same inner loop on its rows
of each batch (rank, rank + N, ...), DDP averages the gradients (gloo on CPU, NCCL on GPU), and
every process takes the same AdamW step, so each holds the same weights. Rank 0 alone talks to the
network; the protocol sees one miner. The update declares its class with N processes
(work.hardware), so a validator replays it with a tolerance like any other class: the averaged
gradient equals the whole batch's up to the rounding of the split sums.

Rank 0 tells the others what to train (`broadcast_epoch`) and sends them the base checkpoint's bytes
(`broadcast_bytes`) over a control group of its own: gloo on CPU, with a timeout longer than any
network's epoch, since the others wait there from one epoch to the next (a main-network epoch is
about 5 h; torch's default timeout, 30 min, would end the miner between two epochs). The training
collectives keep the default group and its timeout.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

import torch
import torch.distributed as dist

from hashgrad.errors import WorkError


def get_world_size_from_env() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


EPOCH_WAIT = timedelta(hours=48)  # the control group's timeout: the followers wait there between epochs
CONTROL: dict[str, dist.ProcessGroup] = {}  # the control group, made once per process by init_distributed


def init_distributed(
    device: torch.device, epoch_wait: timedelta = EPOCH_WAIT, collective_timeout: timedelta | None = None
) -> tuple[int, int]:
    """(rank, world) of this process; joins torchrun's process group when there is one (training
    collectives: `collective_timeout`, default torch's), and makes the control group the epoch
    messages travel in (gloo, `epoch_wait` timeout)."""
    world = get_world_size_from_env()
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend, timeout=collective_timeout)
        CONTROL["group"] = dist.new_group(backend="gloo", timeout=epoch_wait)
    return dist.get_rank(), dist.get_world_size()


def build_shard(device: torch.device, batch_size: int) -> dict:
    """Keyword arguments for miner.compute_miner_update / compute_training_run: this process's
    shard and the DDP wrapper (empty when the miner runs as one process)."""
    rank, world = init_distributed(device)
    if world == 1:
        return {}
    if batch_size % world:
        raise WorkError("bad-world-size", f"batch size {batch_size} does not split over {world} processes")
    return {"shard": (rank, world), "wrap": build_ddp_wrap(device)}


def build_ddp_wrap(device: torch.device) -> Callable[[torch.nn.Module], torch.nn.Module]:
    def wrap(model: torch.nn.Module) -> torch.nn.Module:
        ids = (
            [device.index if device.index is not None else torch.cuda.current_device()]
            if device.type == "cuda"
            else None
        )
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    return wrap


EPOCH_MESSAGE_BYTES = 8 + 32 + 32  # epoch, seed, base checkpoint hash
STOP_EPOCH = 2**63 - 1


def broadcast_epoch(
    epoch: int = STOP_EPOCH, seed: bytes = bytes(32), base: bytes = bytes(32)
) -> tuple[int, bytes, bytes]:
    """Rank 0 tells the other processes which epoch to train (fixed bytes, no pickle); every rank
    returns (epoch, seed, base). STOP_EPOCH tells them to leave."""
    raw = broadcast_bytes(epoch.to_bytes(8, "little") + seed + base, EPOCH_MESSAGE_BYTES)
    return int.from_bytes(raw[:8], "little"), raw[8:40], raw[40:72]


def broadcast_bytes(data: bytes = b"", size: int | None = None) -> bytes:
    """Rank 0's `data` on every rank, through the control group (CPU tensors, no pickle). Without a
    fixed `size`, the length travels first."""
    group = CONTROL["group"]
    if size is None:
        length = torch.tensor([len(data) if dist.get_rank() == 0 else 0], dtype=torch.int64)
        dist.broadcast(length, src=0, group=group)
        size = int(length.item())
    if size == 0:
        return b""
    buffer = torch.zeros(size, dtype=torch.uint8)
    if dist.get_rank() == 0:
        buffer = torch.frombuffer(bytearray(data), dtype=torch.uint8).clone()
    dist.broadcast(buffer, src=0, group=group)
    return buffer.numpy().tobytes()


def is_leader() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def wait_for_all() -> None:
    if dist.is_initialized():
        dist.barrier()


def close_distributed() -> None:
    if dist.is_initialized():
        CONTROL.clear()
        dist.destroy_process_group()
