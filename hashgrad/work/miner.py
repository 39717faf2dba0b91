"""The miner's epoch: H inner AdamW steps from the global checkpoint, then a compressed artifact.

    pages   = f(epoch seed, hotkey)                (data.compute_assigned_pages)
    batches = g(epoch seed, hotkey, pages)         (data.compute_batch_order)
    Δ       = θ_start − θ_end after H AdamW steps  (compute_pseudo_gradient; what audits replay)
    payload = C(β·ef + Δ), ef ← rest               (compress.apply_error_feedback)
    artifact = safetensors(payload) + header(job, epoch, base hash, hotkey, sha256(Δ))

Replays are bit-exact only under the same pins: one thread, deterministic algorithms, the same
CPU kernel path and torch build. Set the kernel path in the process environment *before* torch is
imported, e.g. `ATEN_CPU_CAPABILITY=avx2 hashgrad work ...`; `check_kernel` refuses to train on
another path than the job pins, and the header records it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from hashgrad.errors import WorkError
from hashgrad.work.compress import Layout, Payload, apply_error_feedback, compute_layout
from hashgrad.work.data import Dataset, compute_assigned_pages, compute_batch_order, compute_windows
from hashgrad.work.hashing import compute_commitment
from hashgrad.work.model import Checkpoint, compute_flat
from hashgrad.work.params import WorkParams
from hashgrad.work.update import UpdateHeader, compute_artifact_id, compute_delta_hash, encode_update


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


def compute_pseudo_gradient(checkpoint: Checkpoint, dataset: Dataset, seed: bytes, hotkey: bytes,
                            params: WorkParams, steps: int | None = None) -> torch.Tensor:
    """θ_start − θ_end after `steps` (default H) AdamW steps on the hotkey's seeded batches."""
    steps = params.inner_steps if steps is None else steps
    pages = compute_assigned_pages(seed, hotkey, params.pages_per_miner, dataset.train_pages)
    order = compute_batch_order(seed, hotkey, pages, params.windows_per_page, params.inner_steps, params.batch_size)
    model = checkpoint.build_model()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.inner_lr, betas=params.inner_betas,
                                  weight_decay=params.inner_weight_decay, foreach=False, fused=False)
    window = params.model.block_size + 1
    for refs in order[:steps]:
        batch = compute_windows(dataset, refs, window)
        _, loss = model(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), params.inner_grad_clip, foreach=False)
        optimizer.step()
    end = compute_flat({name: p.detach() for name, p in model.named_parameters()})
    return compute_flat(checkpoint.state) - end


@dataclass(frozen=True)
class MinerOutput:
    artifact: bytes
    artifact_id: bytes
    commitment: bytes
    ef: torch.Tensor  # the error-feedback state to keep for the next epoch
    delta: torch.Tensor


def build_update(params: WorkParams, epoch: int, base_hash: bytes, hotkey: bytes, delta_hash: bytes,
                 payload: Payload, layout: Layout, kernel: str | None = None) -> tuple[bytes, bytes, bytes]:
    """(artifact bytes, artifact id, commitment) for a payload."""
    header = UpdateHeader(job_id=params.job_id, epoch=epoch, base_checkpoint=base_hash, hotkey=hotkey,
                          delta_hash=delta_hash, kernel=kernel or params.kernel, num_params=layout.num_params,
                          chunk_size=params.chunk_size, topk=params.topk, quant_bins=params.quant_bins)
    artifact = encode_update(header, payload)
    artifact_id = compute_artifact_id(artifact)
    return artifact, artifact_id, compute_commitment(artifact_id, hotkey, epoch, params.job_id, base_hash)


def compute_miner_update(checkpoint: Checkpoint, base_hash: bytes, dataset: Dataset, seed: bytes, hotkey: bytes,
                         epoch: int, params: WorkParams, ef: torch.Tensor | None) -> MinerOutput:
    """An honest miner's whole epoch (deterministic given its inputs and the process pins)."""
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    delta = compute_pseudo_gradient(checkpoint, dataset, seed, hotkey, params)
    ef = torch.zeros(layout.num_params) if ef is None else ef
    payload, ef_next = apply_error_feedback(ef, delta, layout, params.quant_bins, params.ef_decay)
    artifact, artifact_id, commitment = build_update(
        params, epoch, base_hash, hotkey, compute_delta_hash(delta), payload, layout)
    return MinerOutput(artifact, artifact_id, commitment, ef_next, delta)
