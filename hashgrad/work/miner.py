"""The miner's epoch: H inner AdamW steps from the global checkpoint, then a compressed artifact.

    pages   = f(epoch seed, hotkey)                (data.compute_assigned_pages)
    batches = g(epoch seed, hotkey, pages)         (data.compute_batch_order)
    Δ       = θ_start − θ_end after H AdamW steps  (compute_pseudo_gradient; what audits replay)
    milestones = truncated sha256 of θ after every `audit_stride` steps (an audit replays a prefix)
    payload = C(β·ef + Δ), ef ← rest               (compress.apply_error_feedback)
    artifact = safetensors(payload) + header(job, epoch, base hash, hotkey, sha256(Δ))

Replays are bit-exact only under the same pins: one thread, deterministic algorithms, the same
CPU kernel path and torch build. Set the kernel path in the process environment *before* torch is
imported, e.g. `ATEN_CPU_CAPABILITY=avx2 hashgrad work ...`; `check_kernel` refuses to train on
another path than the job pins, and the header records it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from hashgrad.errors import WorkError
from hashgrad.work.compress import Layout, Payload, apply_error_feedback, compute_layout
from hashgrad.work.data import Dataset, compute_assigned_pages, compute_batch_order, compute_windows
from hashgrad.work.hashing import compute_commitment, compute_sha256
from hashgrad.work.model import Checkpoint, compute_flat
from hashgrad.work.params import WorkParams
from hashgrad.work.update import (MILESTONE_BYTES, UpdateHeader, compute_artifact_id, compute_delta_hash,
                                  compute_milestone_steps, encode_update)


def set_determinism_pins(threads: int = 1) -> None:
    """Process-wide pins every replayable computation needs (call once in the shell)."""
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def get_kernel() -> str:
    """The CPU kernel path torch dispatches to in this process (AVX2, AVX512, DEFAULT...)."""
    return torch.backends.cpu.get_cpu_capability()


def check_kernel(params: WorkParams) -> None:
    if get_kernel() != params.kernel:
        raise WorkError("wrong-kernel", f"this process runs {get_kernel()}, the job pins {params.kernel}; "
                        f"start it with ATEN_CPU_CAPABILITY={params.kernel.lower()}")


def compute_state_hash(flat: torch.Tensor) -> bytes:
    """Truncated sha256 of a flat float32 weight vector (little-endian bytes)."""
    return compute_sha256(flat.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes())[:MILESTONE_BYTES]


def build_inner_optimizer(model: torch.nn.Module, params: WorkParams) -> torch.optim.AdamW:
    """The inner AdamW of every training run (single-tensor kernels: the replayable path)."""
    return torch.optim.AdamW(model.parameters(), lr=params.inner_lr, betas=params.inner_betas,
                             weight_decay=params.inner_weight_decay, foreach=False, fused=False)


def run_inner_steps(model: torch.nn.Module, optimizer: torch.optim.Optimizer, dataset: Dataset,
                    batches: list, params: WorkParams, on_step: Callable | None = None) -> None:
    """The one inner-training loop (the miner's; the centralized baseline runs it too): per batch of
    window refs, forward, backward, clip the gradient norm to inner_grad_clip, AdamW step; then
    `on_step(step, loss)` with step counted from 1."""
    model.train()
    window = params.model.block_size + 1
    for step, refs in enumerate(batches, start=1):
        batch = compute_windows(dataset, refs, window)
        _, loss = model(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), params.inner_grad_clip, foreach=False)
        optimizer.step()
        if on_step is not None:
            on_step(step, loss)


def compute_training(checkpoint: Checkpoint, dataset: Dataset, seed: bytes, hotkey: bytes, params: WorkParams,
                     steps: int | None = None) -> tuple[torch.Tensor, tuple[bytes, ...]]:
    """(θ_start − θ_end, milestone hashes reached) after `steps` (default H) AdamW steps on the
    hotkey's seeded batches. Stopping early gives exactly the prefix of the full run."""
    steps = params.inner_steps if steps is None else steps
    pages = compute_assigned_pages(seed, hotkey, params.pages_per_miner, dataset.train_pages)
    order = compute_batch_order(seed, hotkey, pages, params.windows_per_page, params.inner_steps, params.batch_size)
    model = checkpoint.build_model()
    marks, milestones = set(compute_milestone_steps(params)), []

    def on_step(step: int, loss: torch.Tensor) -> None:
        if step in marks:
            milestones.append(compute_state_hash(compute_flat({n: p.detach() for n, p in model.named_parameters()})))
    run_inner_steps(model, build_inner_optimizer(model, params), dataset, order[:steps], params, on_step)
    end = compute_flat({name: p.detach() for name, p in model.named_parameters()})
    return compute_flat(checkpoint.state) - end, tuple(milestones)


def compute_pseudo_gradient(checkpoint: Checkpoint, dataset: Dataset, seed: bytes, hotkey: bytes,
                            params: WorkParams, steps: int | None = None) -> torch.Tensor:
    """θ_start − θ_end after `steps` (default H) AdamW steps on the hotkey's seeded batches."""
    return compute_training(checkpoint, dataset, seed, hotkey, params, steps)[0]


@dataclass(frozen=True)
class MinerOutput:
    artifact: bytes
    artifact_id: bytes
    commitment: bytes
    ef: torch.Tensor  # the error-feedback state to keep for the next epoch
    delta: torch.Tensor


def build_update(params: WorkParams, epoch: int, base_hash: bytes, hotkey: bytes, delta_hash: bytes,
                 payload: Payload, layout: Layout, kernel: str | None = None,
                 milestones: tuple[bytes, ...] | None = None) -> tuple[bytes, bytes, bytes]:
    """(artifact bytes, artifact id, commitment) for a payload (milestones default to zero hashes)."""
    if milestones is None:
        milestones = tuple(bytes(MILESTONE_BYTES) for _ in compute_milestone_steps(params))
    header = UpdateHeader(job_id=params.job_id, epoch=epoch, base_checkpoint=base_hash, hotkey=hotkey,
                          delta_hash=delta_hash, kernel=kernel or params.kernel, num_params=layout.num_params,
                          chunk_size=params.chunk_size, topk=params.topk, quant_bins=params.quant_bins,
                          milestones=milestones)
    artifact = encode_update(header, payload)
    artifact_id = compute_artifact_id(artifact)
    return artifact, artifact_id, compute_commitment(artifact_id, hotkey, epoch, params.job_id, base_hash)


def compute_miner_update(checkpoint: Checkpoint, base_hash: bytes, dataset: Dataset, seed: bytes, hotkey: bytes,
                         epoch: int, params: WorkParams, ef: torch.Tensor | None) -> MinerOutput:
    """An honest miner's whole epoch (deterministic given its inputs and the process pins)."""
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    delta, milestones = compute_training(checkpoint, dataset, seed, hotkey, params)
    ef = torch.zeros(layout.num_params) if ef is None else ef
    payload, ef_next = apply_error_feedback(ef, delta, layout, params.quant_bins, params.ef_decay)
    artifact, artifact_id, commitment = build_update(
        params, epoch, base_hash, hotkey, compute_delta_hash(delta), payload, layout, milestones=milestones)
    return MinerOutput(artifact, artifact_id, commitment, ef_next, delta)
