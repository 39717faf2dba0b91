#!/usr/bin/env python3
"""Benchmark of decentralized training in rounds: quality, scaling, bytes, verification, honest share.

One run on the Python stdlib corpus with the library code the miner/validator processes use:
hashgrad.work.rounds drives miners (adversaries.compute_output; honest = miner.compute_miner_update),
the public per-round checks, validators (scoring.compute_scores on a salted share of the rounds),
the per-round outer step (aggregate.compute_next_checkpoint) and, per epoch, Yuma (the chain's epoch
computation) whose incentive picks who the next epoch aggregates.

  1. swarm: 8 honest miners, R rounds of H inner steps of B windows              -> loss_swarm
  2. centralized: R*H AdamW steps of 8*B windows, the same tokens (DDP-equivalent) -> loss_ratio
  3. one miner alone, B windows a step, up to 8*R*H steps, held-out loss along the way:
     speedup_vs_single = steps it needs to reach loss_swarm / (R*H)   (8 = it never got there)
  4. adversarial swarm: 14 honest + one of each adversary kind (30 %)              -> honest_share
  bytes_ratio     = dense fp32 pseudo-gradient bytes / artifact bytes a miner sends per round
  verify_fraction = validator compute / miner compute in the honest swarm: loss tests as measured,
                    replay audits at their expected rate (verify_fraction_measured: as drawn;
                    verify_fraction_adversarial: the same over the adversarial swarm)
  round_seconds_main = main network epoch (tempo x 600 s) / the main preset's rounds per epoch

Runs on one thread with deterministic algorithms. Prints progress; the last line is JSON.
    .venv/bin/python bench/bench_training.py [--preset rounds] [--epochs 10] [--adv-epochs 3] [--adv-rounds 10]
        [--heldout-every 10] [--inner-steps H] [--rounds-per-epoch R] [--outer sparseloco]
    .venv/bin/python bench/bench_training.py --adversarial-only   # stage 4 alone: honest_share, earned by kind
--adv-rounds runs the adversarial swarm with fewer rounds per epoch and the same number of scored rounds
per epoch (score_fraction scaled), so its consensus and honest_share cost a fraction of the time.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace

import torch

from hashgrad.chain.params import HASHGRAD_MAIN
from hashgrad.work.adversaries import ADVERSARY_KINDS
from hashgrad.work.centralized import CENTRAL_HOTKEY, compute_centralized_training
from hashgrad.work.data import build_stdlib_dataset, compute_batch_order, compute_windows
from hashgrad.work.evaluate import compute_heldout_loss
from hashgrad.work.hashing import compute_tagged_hash
from hashgrad.work.miner import get_kernel, set_determinism_pins
from hashgrad.work.model import Checkpoint, compute_initial_state, compute_num_params
from hashgrad.work.params import WORK_PRESETS, get_preset
from hashgrad.work.rounds import build_round_swarm, run_epoch_rounds
from hashgrad.work.update import compute_milestone_steps

SWARM_MINERS = 8
ADVERSARIAL_HONEST = 14
SINGLE_MAX_FACTOR = 8  # the one-miner reference runs up to this many times the swarm's steps per miner


def log(message: str) -> None:
    print(message, flush=True)


def run_swarm(params, dataset, checkpoint, kinds, epochs, label, heldout_every=1):
    swarm = build_round_swarm(params, dataset, checkpoint, kinds)
    swarm.heldout_every = heldout_every
    epochs_out = []
    for _ in range(epochs):
        started = time.monotonic()
        summary = run_epoch_rounds(swarm)
        epochs_out.append(summary)
        earned = {
            k: round(sum(w for uid, w in summary.weights.items() if kinds[uid] == k), 3) for k in sorted(set(kinds))
        }
        flags = sorted({r for rec in summary.rounds for r in rec.flags.values()})
        log(
            f"[{label}] epoch {summary.epoch} rounds {summary.rounds[0].round}-{summary.rounds[-1].round}: held-out "
            f"{' '.join(f'{r.heldout_loss:.3f}' for r in summary.rounds if math.isfinite(r.heldout_loss))} accepted "
            f"{min(r.accepted for r in summary.rounds)}-{max(r.accepted for r in summary.rounds)} "
            f"incentive by kind {earned} flags {flags} ({time.monotonic() - started:.1f} s)"
        )
    return epochs_out


def compute_single_curve(checkpoint, dataset, params, steps, every, seed) -> list[tuple[int, float]]:
    """(step, held-out loss) every `every` AdamW steps of one miner's batch size, up to `steps`."""
    order = compute_batch_order(
        seed, CENTRAL_HOTKEY, dataset.train_pages, params.windows_per_page, steps, params.batch_size
    )
    model = checkpoint.build_model()
    model.train()
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=params.inner_lr,
        betas=params.inner_betas,
        weight_decay=params.inner_weight_decay,
        foreach=False,
        fused=False,
    )
    window, curve = params.model.block_size + 1, []
    for step, refs in enumerate(order, start=1):
        batch = compute_windows(dataset, refs, window)
        _, loss = model(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), params.inner_grad_clip, foreach=False)
        optimizer.step()
        if step % every == 0:
            state = {name: p.detach().clone() for name, p in model.named_parameters()}
            curve.append(
                (step, compute_heldout_loss(Checkpoint(checkpoint.config, dict(sorted(state.items()))), dataset))
            )
    return curve


def compute_steps_to_reach(curve: list[tuple[int, float]], target: float) -> float | None:
    """The first step where the (linearly interpolated) curve reaches `target`, or None."""
    previous = (0, float("inf"))
    for step, loss in curve:
        if loss <= target:
            if previous[1] == float("inf"):
                return float(step)
            return previous[0] + (step - previous[0]) * (previous[1] - target) / (previous[1] - loss)
        previous = (step, loss)
    return None


def compute_verify_fractions(swarm, epochs, params) -> dict:
    """Validator compute / miner compute over `epochs`, with replay audits at their expected rate
    (p x submissions tested x mean replayed steps x seconds per honest inner step)."""
    rounds = [r for e in epochs for r in e.rounds]
    honest = [r for e in swarm for r in e.rounds]
    step_s = sum(r.miner_seconds for r in honest) / (len(honest) * SWARM_MINERS * params.inner_steps)
    depths = compute_milestone_steps(params) + (params.inner_steps,)
    miner_s = sum(r.miner_seconds for r in rounds)
    validator_s = sum(r.validator_seconds for r in rounds)
    audits_expected_s = params.audit_probability * sum(r.tested for r in rounds) * sum(depths) / len(depths) * step_s
    loss_tests_s = max(0.0, validator_s - sum(r.audit_steps for r in rounds) * step_s)
    return {
        "verify_fraction": (loss_tests_s + audits_expected_s) / miner_s,
        "verify_fraction_measured": validator_s / miner_s,
        "verify_loss_tests": loss_tests_s / miner_s,
        "verify_audits_expected": audits_expected_s / miner_s,
    }


def compute_adversarial_params(params, rounds: int | None):
    """The adversarial swarm's job: `rounds` rounds per epoch, with the same number of rounds scored per
    epoch as the preset (score_fraction scaled), so that its epochs' consensus is what the preset's is."""
    if rounds is None or rounds == params.rounds_per_epoch:
        return params
    fraction = min(1.0, params.score_fraction * params.rounds_per_epoch / rounds)
    return replace(params, rounds_per_epoch=rounds, score_fraction=fraction).check()


def compute_round_seconds_main() -> float:
    """The main network's round: its epoch (the training job's tempo x block spacing) / rounds per epoch."""
    job = next(j for j in HASHGRAD_MAIN.jobs if j.kind == "train")
    return job.tempo * HASHGRAD_MAIN.pow.target_spacing / WORK_PRESETS["main"].rounds_per_epoch


def get_adversarial_kinds() -> list[str]:
    return ["honest"] * ADVERSARIAL_HONEST + list(ADVERSARY_KINDS)


def compute_adversarial_share(params, dataset, checkpoint, epochs: int) -> dict:
    """Stage 4 alone: the honest miners' share of the incentive from epoch 1 on, and each kind's."""
    kinds = get_adversarial_kinds()
    started = time.monotonic()
    adversarial = run_swarm(params, dataset, checkpoint, kinds, epochs, "adversarial", params.rounds_per_epoch)
    paid = adversarial[1:] or adversarial
    earned = {
        k: round(sum(w for e in paid for uid, w in e.weights.items() if kinds[uid] == k) / len(paid), 4)
        for k in sorted(set(kinds))
    }
    return {
        "honest_share": earned["honest"],
        "earned_by_kind": earned,
        "adv_epochs": epochs,
        "loss_adversarial": adversarial[-1].heldout_loss,
        "seconds": time.monotonic() - started,
        "kernel": get_kernel(),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="rounds")
    parser.add_argument("--epochs", type=int, default=10, help="swarm epochs (rounds = epochs x rounds_per_epoch)")
    parser.add_argument("--adv-epochs", type=int, default=3)
    parser.add_argument("--outer", default=None, help="override the preset's outer optimiser")
    parser.add_argument("--inner-steps", type=int, default=None, help="override the preset's H")
    parser.add_argument("--adversarial-only", action="store_true", help="run stage 4 alone (honest_share)")
    parser.add_argument(
        "--adv-rounds", type=int, default=None, help="rounds per epoch of the adversarial swarm (default: the preset's)"
    )
    parser.add_argument("--rounds-per-epoch", type=int, default=None, help="override the preset's rounds per epoch")
    parser.add_argument("--heldout-every", type=int, default=10, help="rounds between held-out losses (and epoch ends)")
    args = parser.parse_args(argv)
    set_determinism_pins()
    params = get_preset(args.preset)
    if args.outer:
        params = replace(params, outer_optimizer=args.outer).check()
    if args.inner_steps:
        params = replace(params, inner_steps=args.inner_steps).check()
    if args.rounds_per_epoch:
        params = replace(params, rounds_per_epoch=args.rounds_per_epoch).check()
    dataset = build_stdlib_dataset(params.page_tokens)
    checkpoint = Checkpoint(params.model, compute_initial_state(params.model, 0))
    rounds = args.epochs * params.rounds_per_epoch
    steps = rounds * params.inner_steps
    log(
        f"model {compute_num_params(params.model)} params, {dataset.manifest['num_pages']} pages, "
        f"H={params.inner_steps} B={params.batch_size} T={params.model.block_size}, {rounds} rounds "
        f"({params.rounds_per_epoch} per epoch), outer {params.outer_optimizer}, kernel {get_kernel()}"
    )
    if args.adversarial_only:
        adv_params = compute_adversarial_params(params, args.adv_rounds)
        print(json.dumps(compute_adversarial_share(adv_params, dataset, checkpoint, args.adv_epochs)))
        return 0
    initial = compute_heldout_loss(checkpoint, dataset)

    started = time.monotonic()
    swarm = run_swarm(params, dataset, checkpoint, ["honest"] * SWARM_MINERS, args.epochs, "swarm", args.heldout_every)
    swarm_s = time.monotonic() - started
    loss_swarm = swarm[-1].heldout_loss

    started = time.monotonic()
    central = compute_centralized_training(
        checkpoint, dataset, params, steps, SWARM_MINERS * params.batch_size, compute_tagged_hash("bench/central", b"")
    )
    loss_centralized = compute_heldout_loss(central, dataset)
    log(
        f"[centralized] {steps} steps of {SWARM_MINERS * params.batch_size}: held-out {loss_centralized:.4f} "
        f"({time.monotonic() - started:.1f} s)"
    )

    started = time.monotonic()
    curve = compute_single_curve(
        checkpoint,
        dataset,
        params,
        SINGLE_MAX_FACTOR * steps,
        max(1, steps // 4),
        compute_tagged_hash("bench/single", b""),
    )
    reached = compute_steps_to_reach(curve, loss_swarm)
    log(
        f"[one miner alone] up to {SINGLE_MAX_FACTOR * steps} steps of {params.batch_size}: "
        f"{' '.join(f'{s}:{loss:.3f}' for s, loss in curve)}; reaches {loss_swarm:.4f} at "
        f"{reached if reached is not None else 'never'} ({time.monotonic() - started:.1f} s)"
    )

    kinds = get_adversarial_kinds()
    adv_params = compute_adversarial_params(params, args.adv_rounds)
    adversarial = run_swarm(
        adv_params, dataset, checkpoint, kinds, args.adv_epochs, "adversarial", adv_params.rounds_per_epoch
    )

    dense_bytes = 4 * compute_num_params(params.model)
    sent = [b for e in swarm + adversarial for r in e.rounds for b in r.artifact_bytes.values()]
    paid = adversarial[1:] or adversarial  # the first epoch has no consensus to aggregate by yet
    honest_weight = sum(w for e in paid for uid, w in e.weights.items() if kinds[uid] == "honest")
    result = {
        "loss_ratio": loss_swarm / loss_centralized,
        "speedup_vs_single": (reached if reached is not None else SINGLE_MAX_FACTOR * steps) / steps,
        "bytes_ratio": dense_bytes / (sum(sent) / len(sent)),
        **compute_verify_fractions(swarm, swarm, params),
        "verify_fraction_adversarial": compute_verify_fractions(swarm, adversarial, params)["verify_fraction"],
        "honest_share": honest_weight / len(paid),
        "rounds": rounds,
        "round_seconds_main": compute_round_seconds_main(),
        "loss_initial": initial,
        "loss_swarm": loss_swarm,
        "loss_centralized": loss_centralized,
        "loss_single_same_tokens_per_miner": next((loss for s, loss in curve if s == steps), None),
        "loss_adversarial": adversarial[-1].heldout_loss,
        "loss_per_round": [
            [r.round, round(r.heldout_loss, 4)] for e in swarm for r in e.rounds if math.isfinite(r.heldout_loss)
        ],
        "swarm_seconds": swarm_s,
        "bytes_per_miner_round": sum(sent) / len(sent),
        "audits": sum(r.audited for e in swarm + adversarial for r in e.rounds),
        "params": compute_num_params(params.model),
        "preset": args.preset,
        "epochs": args.epochs,
        "rounds_per_epoch": params.rounds_per_epoch,
        "inner_steps": params.inner_steps,
        "batch_size": params.batch_size,
        "adv_epochs": args.adv_epochs,
        "adv_rounds_per_epoch": adv_params.rounds_per_epoch,
        "kernel": get_kernel(),
        "outer_optimizer": params.outer_optimizer,
        "outer_lr": params.outer_lr,
        "outer_momentum": params.outer_momentum,
        "ef_decay": params.ef_decay,
        "chunk_size": params.chunk_size,
        "topk": params.topk,
        "score_fraction": params.score_fraction,
        "audit_probability": params.audit_probability,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
