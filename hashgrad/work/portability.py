"""Cross-class audits end to end: miners of one hardware class, a validator of another, and the cheats.

The CPU kernel is fixed when a process starts (ATEN_CPU_CAPABILITY), so each class runs in its
own process: `mine` (under the miner's kernel) writes the checkpoint, and per kind an update
artifact and its reveal (Δ and milestone states); `audit` (under the validator's kernel, another
process) reads them and runs the audit a validator runs (`scoring.compute_audit`'s choice: exact
within a class, `crossclass.check_cross_class` across). tests/work/test_crossclass_audit.py and
bench/bench_portability.py drive it:

    ATEN_CPU_CAPABILITY=avx2 python -m hashgrad.work.portability mine DIR --preset tiny
    ATEN_CPU_CAPABILITY=default python -m hashgrad.work.portability audit DIR --preset tiny
    torchrun --standalone --nproc-per-node 2 -m hashgrad.work.portability mine DIR --kinds honest   (DDP)

Cheats, each self-consistent (its milestone hashes match the states it reveals):
    skipped-steps          runs half the steps, extrapolates the rest of the trajectory and Δ
    other-pages            trains on another hotkey's pages
    scaled / noised        trains honestly, sends 1.5 Δ / Δ + 5 % noise
    old-update             a run for another epoch's seed (an old update, replayed)
    fewer-steps-larger-lr  half the steps at twice the learning rate, milestones interpolated
Prints one JSON line per audited update.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from hashgrad.errors import WorkError
from hashgrad.work.compress import apply_error_feedback, compute_layout
from hashgrad.work.crossclass import check_cross_class
from hashgrad.work.data import Dataset, build_dataset, get_stdlib_dir
from hashgrad.work.distributed import broadcast_epoch, build_shard, close_distributed, is_leader, wait_for_all
from hashgrad.work.evaluate import is_prefix_exact
from hashgrad.work.hardware import Runtime, build_runtime, is_exact_class, parse_hardware_class
from hashgrad.work.hashing import compute_tagged_hash
from hashgrad.work.miner import (
    InnerState,
    build_update,
    compute_inner_state_hash,
    compute_training_run,
    get_update_class,
    set_determinism_pins,
)
from hashgrad.work.model import Checkpoint, checkpoint_hash, compute_flat, compute_initial_state, decode_checkpoint
from hashgrad.work.params import WorkParams, get_preset
from hashgrad.work.reveal import encode_reveal
from hashgrad.work.update import compute_delta_hash, compute_milestone_steps, decode_update

CHEATS = ("skipped-steps", "other-pages", "scaled", "noised", "old-update", "fewer-steps-larger-lr")
KINDS = ("honest",) + CHEATS
SEED = compute_tagged_hash("hashgrad/portability/seed", b"")
OLD_SEED = compute_tagged_hash("hashgrad/portability/old-seed", b"")
HOTKEY = compute_tagged_hash("hashgrad/portability/hotkey", b"")
OTHER_HOTKEY = compute_tagged_hash("hashgrad/portability/other-hotkey", b"")
CORPUS_SUBDIR = "email"


def compute_interpolated_states(start: torch.Tensor, end: torch.Tensor, params: WorkParams) -> tuple[InnerState, ...]:
    """Made-up milestone states on the straight line from start to end (zero moments)."""
    zero = torch.zeros_like(start)
    return tuple(
        InnerState(s, start + (end - start) * (s / params.inner_steps), zero, zero)
        for s in compute_milestone_steps(params)
    )


def compute_claim(
    kind: str, checkpoint: Checkpoint, dataset: Dataset, params: WorkParams, runtime: Runtime, shard: dict | None = None
) -> tuple[torch.Tensor, tuple[InnerState, ...]]:
    """(the Δ a miner of `kind` declares, the milestone states it reveals); `shard` makes the honest
    run data-parallel (work.distributed)."""
    start = compute_flat(checkpoint.state)
    half = params.inner_steps // 2
    if kind == "skipped-steps":
        run = compute_training_run(checkpoint, dataset, SEED, HOTKEY, params, half, runtime)
        moved = start - run.end.params
        faked = tuple(
            InnerState(s, start - moved * (s / half), run.end.exp_avg, run.end.exp_avg_sq)
            for s in compute_milestone_steps(params)
            if s > half
        )
        return moved * (params.inner_steps / half), run.states + faked
    if kind == "fewer-steps-larger-lr":
        fast = replace(params, inner_lr=2 * params.inner_lr)
        end = compute_training_run(checkpoint, dataset, SEED, HOTKEY, fast, half, runtime).end.params
        return start - end, compute_interpolated_states(start, end, params)
    hotkey, seed = (
        (OTHER_HOTKEY, SEED) if kind == "other-pages" else (HOTKEY, OLD_SEED if kind == "old-update" else SEED)
    )
    run = compute_training_run(checkpoint, dataset, seed, hotkey, params, runtime=runtime, **(shard or {}))
    delta = start - run.end.params
    if kind == "scaled":
        delta = delta * 1.5
    elif kind == "noised":
        noise = torch.randn(delta.shape, generator=torch.Generator().manual_seed(7))
        delta = delta + noise * (0.05 * float(delta.norm()) / float(noise.norm()))
    elif kind not in ("honest", "other-pages", "old-update"):
        raise ValueError(kind)
    return delta, run.states


def build_claim(
    kind: str, checkpoint: Checkpoint, dataset: Dataset, params: WorkParams, runtime: Runtime, shard: dict | None = None
) -> tuple[bytes, bytes]:
    """(update artifact, reveal) for a miner of `kind`: a real artifact with the declared class."""
    delta, states = compute_claim(kind, checkpoint, dataset, params, runtime, shard)
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    payload, _ = apply_error_feedback(torch.zeros(layout.num_params), delta, layout, params.quant_bins, params.ef_decay)
    artifact, _, _ = build_update(
        params,
        1,
        checkpoint_hash(checkpoint.to_bytes()),
        HOTKEY,
        compute_delta_hash(delta),
        payload,
        layout,
        get_update_class(runtime, shard or {}),
        tuple(compute_inner_state_hash(s) for s in states),
    )
    return artifact, encode_reveal(delta, states)


def load_inputs(preset: str) -> tuple[WorkParams, Dataset]:
    params = get_preset(preset, precisions=("fp32", "bf16"))  # both measured here; a job may accept fp32 only
    return params, build_dataset(get_stdlib_dir() / CORPUS_SUBDIR, params.page_tokens)


def run_mine(directory: Path, preset: str, kinds: tuple[str, ...], device: str, precision: str) -> None:
    runtime = build_runtime(device, precision)
    set_determinism_pins(1, runtime.device)
    params, dataset = load_inputs(preset)
    shard = build_shard(runtime.device, params.batch_size)  # under torchrun: data-parallel, rank 0 writes
    directory.mkdir(parents=True, exist_ok=True)
    checkpoint_file = directory / "checkpoint.safetensors"
    if is_leader() and not checkpoint_file.exists():
        checkpoint_file.write_bytes(Checkpoint(params.model, compute_initial_state(params.model, 0)).to_bytes())
    wait_for_all()
    checkpoint = decode_checkpoint(checkpoint_file.read_bytes())
    if shard:  # as the miner role does: rank 0 announces the epoch, the others check what they train on
        announced = broadcast_epoch(1, SEED, checkpoint_hash(checkpoint.to_bytes()))
        if announced != (1, SEED, checkpoint_hash(checkpoint.to_bytes())):
            raise WorkError("bad-broadcast", "the processes disagree on the epoch to train")
    for kind in kinds:
        started = time.process_time()
        artifact, reveal = build_claim(kind, checkpoint, dataset, params, runtime, shard)
        if is_leader():
            (directory / f"{kind}.update").write_bytes(artifact)
            (directory / f"{kind}.reveal").write_bytes(reveal)
            print(
                json.dumps(
                    {"kind": kind, "class": get_update_class(runtime, shard), "seconds": time.process_time() - started}
                ),
                flush=True,
            )
    close_distributed()


def compute_audit_record(
    kind: str,
    checkpoint: Checkpoint,
    dataset: Dataset,
    params: WorkParams,
    artifact: bytes,
    reveal: bytes,
    runtime: Runtime,
) -> dict:
    header, _ = decode_update(artifact, params, compute_layout(params.model, params.chunk_size, params.topk))
    declared = parse_hardware_class(header.hardware)
    runtime = replace(runtime, precision=declared.precision)
    started = time.process_time()
    record: dict[str, object] = {
        "kind": kind,
        "miner_class": header.hardware,
        "validator_class": runtime.get_class().to_text(),
    }
    if is_exact_class(declared, runtime.get_class()):
        passed = is_prefix_exact(checkpoint, dataset, SEED, HOTKEY, params, header, params.inner_steps, runtime)
        record |= {"mode": "exact", "passed": passed, "reason": None if passed else "replay-mismatch"}
    else:
        verdict = check_cross_class(checkpoint, dataset, SEED, HOTKEY, params, header, reveal, runtime)
        record |= {
            "mode": "tolerance",
            "passed": verdict.passed,
            "drift": verdict.drift,
            "threshold": verdict.threshold,
            "reason": verdict.reason,
            "first_bad_step": verdict.first_bad_step,
            "replayed_steps": verdict.replayed_steps,
        }
    return record | {"seconds": time.process_time() - started}


def run_audit(directory: Path, preset: str, kinds: tuple[str, ...], device: str) -> None:
    runtime = build_runtime(device)
    set_determinism_pins(1, runtime.device)
    params, dataset = load_inputs(preset)
    checkpoint = decode_checkpoint((directory / "checkpoint.safetensors").read_bytes())
    for kind in kinds:
        record = compute_audit_record(
            kind,
            checkpoint,
            dataset,
            params,
            (directory / f"{kind}.update").read_bytes(),
            (directory / f"{kind}.reveal").read_bytes(),
            runtime,
        )
        print(json.dumps(record), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hashgrad.work.portability")
    parser.add_argument("action", choices=("mine", "audit"))
    parser.add_argument("directory", type=Path)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    args = parser.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    if not set(kinds) <= set(KINDS):
        parser.error(f"kinds: {', '.join(KINDS)}")
    if args.action == "mine":
        run_mine(args.directory, args.preset, kinds, args.device, args.precision)
    else:
        run_audit(args.directory, args.preset, kinds, args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
