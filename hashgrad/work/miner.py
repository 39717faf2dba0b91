"""The miner's epoch: H inner AdamW steps from the global checkpoint, then a compressed artifact.

    pages   = f(epoch seed, hotkey)                (data.compute_assigned_pages)
    batches = g(epoch seed, hotkey, pages)         (data.compute_batch_order)
    Δ       = θ_start − θ_end after H AdamW steps  (compute_pseudo_gradient; what audits replay)
    milestones = truncated sha256 of the inner state (weights and AdamW moments) after every
                 `audit_stride` steps: an audit replays a prefix (same class) or, across classes,
                 a segment from a revealed state (work.crossclass)
    payload = C(β·ef + Δ), ef ← rest               (compress.apply_error_feedback)
    artifact = safetensors(payload) + header(job, epoch, base hash, hotkey, sha256(Δ), hardware class,
               milestones, sha256 of the reveal's manifest: Δ and milestone states, work.reveal)

Training runs on any device (`hardware.Runtime`: cpu, cuda, mps; fp32 or bf16 autocast) and may be
data-parallel inside the miner (`torchrun`, see work.distributed). The header declares the
hardware class; replays are bit-exact only within a CPU class (one thread, deterministic
algorithms, the same kernel and torch build), and tolerant across classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from hashgrad.work.compress import Layout, Payload, apply_error_feedback, compute_layout
from hashgrad.work.data import Dataset, compute_assigned_pages, compute_batch_order, compute_windows
from hashgrad.work.hardware import CPU_FP32, Runtime, get_cpu_kernel
from hashgrad.work.hardware import set_determinism_pins as set_hardware_pins
from hashgrad.work.hashing import compute_commitment, compute_sha256
from hashgrad.work.model import Checkpoint, compute_flat, compute_unflat
from hashgrad.work.params import WorkParams
from hashgrad.work.reveal import NO_REVEAL, RevealPackage, compute_reveal_package, encode_reveal
from hashgrad.work.update import (
    MILESTONE_BYTES,
    UpdateHeader,
    compute_artifact_id,
    compute_delta_hash,
    compute_milestone_steps,
    encode_update,
)


def set_determinism_pins(threads: int = 1, device: torch.device | None = None) -> None:
    """Process-wide pins every replayable computation needs (call once in the shell)."""
    set_hardware_pins(threads, device)


def get_kernel() -> str:
    """The CPU kernel path torch dispatches to in this process (AVX2, AVX512, DEFAULT...)."""
    return get_cpu_kernel()


def compute_state_hash(flat: torch.Tensor) -> bytes:
    """Truncated sha256 of flat float32 vectors (little-endian bytes)."""
    return compute_sha256(flat.detach().to(torch.float32).cpu().contiguous().numpy().astype("<f4").tobytes())[
        :MILESTONE_BYTES
    ]


@dataclass(frozen=True)
class InnerState:
    """The inner optimisation's whole state after `step` steps: weights and AdamW moments, flat
    float32 on the CPU in canonical (sorted-name) order. What a miner reveals at a milestone."""

    step: int
    params: torch.Tensor
    exp_avg: torch.Tensor
    exp_avg_sq: torch.Tensor


def compute_inner_state_hash(state: InnerState) -> bytes:
    """The milestone hash a miner declares: truncated sha256 of weights, then both AdamW moments."""
    return compute_state_hash(torch.cat([state.params, state.exp_avg, state.exp_avg_sq]))


def compute_initial_inner_state(checkpoint: Checkpoint) -> InnerState:
    flat = compute_flat(checkpoint.state).to(torch.float32)
    return InnerState(0, flat.clone(), torch.zeros_like(flat), torch.zeros_like(flat))


def build_inner_optimizer(model: torch.nn.Module, params: WorkParams) -> torch.optim.AdamW:
    """The inner AdamW of every training run (single-tensor kernels: the replayable path)."""
    return torch.optim.AdamW(
        model.parameters(),
        lr=params.inner_lr,
        betas=params.inner_betas,
        weight_decay=params.inner_weight_decay,
        foreach=False,
        fused=False,
    )


def get_inner_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int) -> InnerState:
    named = dict(model.named_parameters())
    names = sorted(named)

    def flat(get) -> torch.Tensor:
        return torch.cat([get(named[n]).detach().to(torch.float32).cpu().reshape(-1) for n in names])

    return InnerState(
        step,
        flat(lambda p: p),
        flat(lambda p: optimizer.state[p]["exp_avg"] if p in optimizer.state else torch.zeros_like(p)),
        flat(lambda p: optimizer.state[p]["exp_avg_sq"] if p in optimizer.state else torch.zeros_like(p)),
    )


def put_inner_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: InnerState) -> None:
    """Load the AdamW moments of `state` (the weights are loaded with the model); step 0 is fresh."""
    if state.step == 0:
        return
    named, offset = dict(model.named_parameters()), 0
    for name in sorted(named):
        p = named[name]
        size = p.numel()
        optimizer.state[p] = {
            "step": torch.tensor(float(state.step), dtype=torch.float32),
            "exp_avg": state.exp_avg[offset : offset + size].view_as(p).to(p.device).clone(),
            "exp_avg_sq": state.exp_avg_sq[offset : offset + size].view_as(p).to(p.device).clone(),
        }
        offset += size


def run_inner_steps(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    dataset: Dataset,
    batches: list,
    params: WorkParams,
    on_step: Callable | None = None,
    runtime: Runtime = CPU_FP32,
    first_step: int = 1,
    shard: tuple[int, int] = (0, 1),
    forward: torch.nn.Module | None = None,
) -> None:
    """The one inner-training loop (the miner's; the centralized baseline runs it too): per batch of
    window refs, forward (under the runtime's autocast), backward, clip the gradient norm to
    inner_grad_clip, AdamW step; then `on_step(step, loss)`, steps counted from `first_step`.

    Data-parallel: process `rank` of `world` (shard) takes rows rank, rank + world, ... of each
    batch and `forward` is the DDP wrapper of `model`, which averages the gradients."""
    model.train()
    rank, world = shard
    forward = model if forward is None else forward
    window = params.model.block_size + 1
    for step, refs in enumerate(batches, start=first_step):
        batch = compute_windows(dataset, list(refs)[rank::world], window).to(runtime.device)
        with runtime.build_autocast():
            _, loss = forward(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), params.inner_grad_clip, foreach=False)
        optimizer.step()
        if on_step is not None:
            on_step(step, loss)


@dataclass(frozen=True)
class TrainingRun:
    end: InnerState  # the state after the last step run
    milestones: tuple[bytes, ...]  # hashes of the milestone states reached (compute_inner_state_hash)
    states: tuple[InnerState, ...]  # those states themselves (what the miner reveals on audit)


def compute_batches(dataset: Dataset, seed: bytes, hotkey: bytes, params: WorkParams) -> list:
    """The miner's H batches of window refs (pages and order from the epoch seed and its hotkey)."""
    pages = compute_assigned_pages(seed, hotkey, params.pages_per_miner, dataset.train_pages)
    return compute_batch_order(seed, hotkey, pages, params.windows_per_page, params.inner_steps, params.batch_size)


def compute_segment(
    checkpoint: Checkpoint,
    dataset: Dataset,
    batches: list,
    params: WorkParams,
    start: InnerState,
    stop: int,
    runtime: Runtime = CPU_FP32,
    shard: tuple[int, int] = (0, 1),
    wrap: Callable | None = None,
) -> TrainingRun:
    """Steps start.step + 1 .. stop of a run from `start` (a revealed or initial state), recording the
    milestone states it passes. Resuming from a state gives the same bits as running through it."""
    model = replace(checkpoint, state=compute_unflat(start.params, checkpoint.config)).build_model().to(runtime.device)
    optimizer = build_inner_optimizer(model, params)
    put_inner_state(model, optimizer, start)
    marks, states = set(compute_milestone_steps(params)), []

    def on_step(step: int, loss: torch.Tensor) -> None:
        if step in marks:
            states.append(get_inner_state(model, optimizer, step))

    run_inner_steps(
        model,
        optimizer,
        dataset,
        batches[start.step : stop],
        params,
        on_step,
        runtime,
        start.step + 1,
        shard,
        wrap(model) if wrap is not None else None,
    )
    end = get_inner_state(model, optimizer, stop)
    return TrainingRun(end, tuple(compute_inner_state_hash(s) for s in states), tuple(states))


def compute_training_run(
    checkpoint: Checkpoint,
    dataset: Dataset,
    seed: bytes,
    hotkey: bytes,
    params: WorkParams,
    steps: int | None = None,
    runtime: Runtime = CPU_FP32,
    **shard,
) -> TrainingRun:
    """The first `steps` (default H) inner steps of the hotkey's run from the checkpoint."""
    steps = params.inner_steps if steps is None else steps
    return compute_segment(
        checkpoint,
        dataset,
        compute_batches(dataset, seed, hotkey, params),
        params,
        compute_initial_inner_state(checkpoint),
        steps,
        runtime,
        **shard,
    )


def compute_training(
    checkpoint: Checkpoint,
    dataset: Dataset,
    seed: bytes,
    hotkey: bytes,
    params: WorkParams,
    steps: int | None = None,
    runtime: Runtime = CPU_FP32,
) -> tuple[torch.Tensor, tuple[bytes, ...]]:
    """(θ_start − θ_end, milestone hashes reached) after `steps` (default H) AdamW steps on the
    hotkey's seeded batches. Stopping early gives exactly the prefix of the full run."""
    run = compute_training_run(checkpoint, dataset, seed, hotkey, params, steps, runtime)
    return compute_flat(checkpoint.state) - run.end.params, run.milestones


def compute_pseudo_gradient(
    checkpoint: Checkpoint, dataset: Dataset, seed: bytes, hotkey: bytes, params: WorkParams, steps: int | None = None
) -> torch.Tensor:
    """θ_start − θ_end after `steps` (default H) AdamW steps on the hotkey's seeded batches."""
    return compute_training(checkpoint, dataset, seed, hotkey, params, steps)[0]


@dataclass(frozen=True)
class MinerOutput:
    artifact: bytes
    artifact_id: bytes
    commitment: bytes
    ef: torch.Tensor  # the error-feedback state to keep for the next epoch
    delta: torch.Tensor
    states: tuple[InnerState, ...] = ()  # the milestone states, revealed when the update is audited
    reveal: RevealPackage | None = None  # Δ and those states as chunks; the header names their manifest


def build_update(
    params: WorkParams,
    epoch: int,
    base_hash: bytes,
    hotkey: bytes,
    delta_hash: bytes,
    payload: Payload,
    layout: Layout,
    hardware: str | None = None,
    milestones: tuple[bytes, ...] | None = None,
    reveal: RevealPackage | None = None,
) -> tuple[bytes, bytes, bytes]:
    """(artifact bytes, artifact id, commitment) for a payload (milestones default to zero hashes); the
    header declares `params.batch_size` and `params.inner_steps`, the batch and steps the miner ran,
    and names the reveal's manifest, or none."""
    if milestones is None:
        milestones = tuple(bytes(MILESTONE_BYTES) for _ in compute_milestone_steps(params))
    header = UpdateHeader(
        job_id=params.job_id,
        epoch=epoch,
        base_checkpoint=base_hash,
        hotkey=hotkey,
        delta_hash=delta_hash,
        hardware=hardware or CPU_FP32.get_class().to_text(),
        num_params=layout.num_params,
        chunk_size=params.chunk_size,
        topk=params.topk,
        quant_bins=params.quant_bins,
        batch_size=params.batch_size,
        inner_steps=params.inner_steps,
        milestones=milestones,
        reveal=NO_REVEAL if reveal is None else reveal.manifest_id,
    )
    artifact = encode_update(header, payload)
    artifact_id = compute_artifact_id(artifact)
    return artifact, artifact_id, compute_commitment(artifact_id, hotkey, epoch, params.job_id, base_hash)


def compute_miner_update(
    checkpoint: Checkpoint,
    base_hash: bytes,
    dataset: Dataset,
    seed: bytes,
    hotkey: bytes,
    epoch: int,
    params: WorkParams,
    ef: torch.Tensor | None,
    runtime: Runtime = CPU_FP32,
    **shard,
) -> MinerOutput:
    """An honest miner's whole epoch (deterministic given its inputs, the runtime and the process pins)."""
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    run = compute_training_run(checkpoint, dataset, seed, hotkey, params, runtime=runtime, **shard)
    delta, milestones = compute_flat(checkpoint.state) - run.end.params, run.milestones
    ef = torch.zeros(layout.num_params) if ef is None else ef
    payload, ef_next = apply_error_feedback(ef, delta, layout, params.quant_bins, params.ef_decay)
    reveal = compute_reveal_package(encode_reveal(delta, run.states))  # what a validator of another class replays
    artifact, artifact_id, commitment = build_update(
        params,
        epoch,
        base_hash,
        hotkey,
        compute_delta_hash(delta),
        payload,
        layout,
        get_update_class(runtime, shard),
        milestones,
        reveal,
    )
    return MinerOutput(artifact, artifact_id, commitment, ef_next, delta, run.states, reveal)


def get_update_class(runtime: Runtime, shard: dict) -> str:
    """The hardware class an update declares (data-parallel runs count their processes)."""
    world = shard.get("shard", (0, 1))[1]
    return replace(runtime, processes=world).get_class().to_text()
