"""Cheating miners as first-class options, for tests, the benchmark and the devnet's miner process.

    honest      the real thing (miner.compute_miner_update)
    lazy        sends a zero update
    noise       random update, norm-matched to what honest miners send
    copycat     copies an update revealed by another miner this epoch (slightly perturbed), re-signed
    replay      resubmits an update from an earlier epoch under a fresh header
    poisoner    trains honestly, then sends its update negated/scaled (`poison_factor`)
    sandbagger  does a fraction of the steps and scales the result up to look normal

Each returns a `MinerOutput` exactly as an honest miner does (valid format, valid commitment), or
None when it has nothing to send (a copycat with nobody to copy, a replay with no past).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from hashgrad.errors import WorkError
from hashgrad.work.compress import Layout, Payload, apply_error_feedback, compress, compute_layout, decompress
from hashgrad.work.data import Dataset
from hashgrad.work.hardware import CPU_FP32, Runtime
from hashgrad.work.hashing import compute_seed
from hashgrad.work.miner import (
    InnerState,
    MinerOutput,
    build_update,
    compute_inner_state_hash,
    compute_miner_update,
    compute_training_run,
)
from hashgrad.work.model import Checkpoint, compute_flat
from hashgrad.work.params import WorkParams
from hashgrad.work.reveal import compute_reveal_package, encode_reveal
from hashgrad.work.update import compute_delta_hash, compute_milestone_steps, decode_update

KINDS = ("honest", "lazy", "noise", "copycat", "replay", "poisoner", "sandbagger")
ADVERSARY_KINDS = KINDS[1:]


@dataclass(frozen=True)
class MinerContext:
    checkpoint: Checkpoint
    base_hash: bytes
    dataset: Dataset
    seed: bytes
    hotkey: bytes
    epoch: int
    params: WorkParams
    ef: torch.Tensor | None = None
    others: tuple[bytes, ...] = ()  # artifacts revealed by others earlier this epoch (copycat's source)
    past: tuple[bytes, ...] = ()  # artifacts of earlier epochs this miner kept (replay's source)
    norm_hint: float = 0.0  # the norm honest updates have (noise matches it)
    poison_factor: float = -1.0
    sandbag_fraction: float = 0.25
    runtime: Runtime = CPU_FP32  # the miner's device and precision
    shard: dict = field(default_factory=dict)  # data-parallel inside the miner (work.distributed.build_shard)


def compute_output(kind: str, ctx: MinerContext) -> MinerOutput | None:
    if kind not in KINDS:
        raise WorkError("unknown-miner-kind", f"{kind}; known: {', '.join(KINDS)}")
    if kind == "honest":
        return compute_miner_update(
            ctx.checkpoint,
            ctx.base_hash,
            ctx.dataset,
            ctx.seed,
            ctx.hotkey,
            ctx.epoch,
            ctx.params,
            ctx.ef,
            ctx.runtime,
            **ctx.shard,
        )
    return ADVERSARIES[kind](ctx, compute_layout(ctx.params.model, ctx.params.chunk_size, ctx.params.topk))


def compute_wrapped(
    ctx: MinerContext,
    payload: Payload,
    layout: Layout,
    delta: torch.Tensor,
    ef: torch.Tensor | None,
    states: tuple[InnerState, ...] | None = None,
) -> MinerOutput:
    """A cheat's output as an honest miner's looks; with `states`, its milestone hashes and its reveal
    (Δ and states, published as chunks) are theirs, as consistent as an honest miner's."""
    reveal = None if states is None else compute_reveal_package(encode_reveal(delta, states))
    artifact, artifact_id, commitment = build_update(
        ctx.params,
        ctx.epoch,
        ctx.base_hash,
        ctx.hotkey,
        compute_delta_hash(delta),
        payload,
        layout,
        ctx.runtime.get_class().to_text(),
        None if states is None else tuple(compute_inner_state_hash(s) for s in states),
        reveal,
    )
    return MinerOutput(
        artifact,
        artifact_id,
        commitment,
        ef if ef is not None else torch.zeros(layout.num_params),
        delta,
        states or (),
        reveal,
    )


def compute_lazy(ctx: MinerContext, layout: Layout) -> MinerOutput:
    zero = torch.zeros(layout.num_params)
    return compute_wrapped(ctx, compress(zero, layout, ctx.params.quant_bins), layout, zero, ctx.ef)


def compute_noise(ctx: MinerContext, layout: Layout) -> MinerOutput:
    generator = torch.Generator().manual_seed(int.from_bytes(compute_seed(ctx.seed, "noise", ctx.hotkey)[:8], "little"))
    payload = compress(torch.randn(layout.num_params, generator=generator), layout, ctx.params.quant_bins)
    norm = float(decompress(payload, layout).norm())
    scale = (ctx.norm_hint or 1.0) / norm if norm > 0 else 1.0
    payload = replace(payload, codebook=(payload.codebook * scale).astype(np.float32))
    return compute_wrapped(ctx, payload, layout, decompress(payload, layout), ctx.ef)


def compute_copycat(ctx: MinerContext, layout: Layout) -> MinerOutput | None:
    if not ctx.others:
        return None
    victim = ctx.others[int.from_bytes(compute_seed(ctx.seed, "victim", ctx.hotkey)[:8], "little") % len(ctx.others)]
    header, payload = decode_update(victim, ctx.params, layout)
    generator = torch.Generator().manual_seed(int.from_bytes(ctx.hotkey[:8], "little"))
    jitter = 1 + 1e-3 * torch.randn(payload.codebook.shape, generator=generator).numpy()
    payload = replace(payload, codebook=(payload.codebook * jitter).astype(np.float32))
    return compute_wrapped(ctx, payload, layout, decompress(payload, layout), ctx.ef)


def compute_replay(ctx: MinerContext, layout: Layout) -> MinerOutput | None:
    if not ctx.past:
        return None
    _, payload = decode_update(ctx.past[-1], ctx.params, layout)
    return compute_wrapped(ctx, payload, layout, decompress(payload, layout), ctx.ef)


def compute_poisoner(ctx: MinerContext, layout: Layout) -> MinerOutput:
    run = compute_training_run(ctx.checkpoint, ctx.dataset, ctx.seed, ctx.hotkey, ctx.params, runtime=ctx.runtime)
    delta = compute_flat(ctx.checkpoint.state) - run.end.params
    ef = torch.zeros(layout.num_params) if ctx.ef is None else ctx.ef
    payload, ef_next = apply_error_feedback(ef, delta, layout, ctx.params.quant_bins, ctx.params.ef_decay)
    payload = replace(payload, codebook=(payload.codebook * ctx.poison_factor).astype(np.float32))
    return compute_wrapped(ctx, payload, layout, delta, ef_next, run.states)  # its true run: audits pass


def compute_sandbagger(ctx: MinerContext, layout: Layout) -> MinerOutput:
    """Runs the first fraction of the steps (its early milestones are genuine), then extrapolates:
    the update and the later milestone states (on the line its run took, with its last moments) stand
    for what a full run would have reached. Its reveal matches its hashes: only a replay catches it."""
    steps = max(1, int(ctx.params.inner_steps * ctx.sandbag_fraction))
    run = compute_training_run(ctx.checkpoint, ctx.dataset, ctx.seed, ctx.hotkey, ctx.params, steps, ctx.runtime)
    start = compute_flat(ctx.checkpoint.state)
    moved = start - run.end.params
    faked = tuple(
        InnerState(s, start - moved * (s / steps), run.end.exp_avg, run.end.exp_avg_sq)
        for s in compute_milestone_steps(ctx.params)[len(run.states) :]
    )
    delta = moved * (ctx.params.inner_steps / steps)
    ef = torch.zeros(layout.num_params) if ctx.ef is None else ctx.ef
    payload, ef_next = apply_error_feedback(ef, delta, layout, ctx.params.quant_bins, ctx.params.ef_decay)
    return compute_wrapped(ctx, payload, layout, delta, ef_next, run.states + faked)


ADVERSARIES = {
    "lazy": compute_lazy,
    "noise": compute_noise,
    "copycat": compute_copycat,
    "replay": compute_replay,
    "poisoner": compute_poisoner,
    "sandbagger": compute_sandbagger,
}
