#!/usr/bin/env python3
"""Benchmark of decentralized training: quality, bytes, verification cost and honest reward share.

One run on the Python stdlib corpus, the same library code as the miner/validator processes
(hashgrad.work.swarm drives miner.compute_miner_update, scoring.compute_scores and
aggregate.compute_next_checkpoint; adversaries come from hashgrad.work.adversaries):

  1. swarm: 8 honest miners for E epochs (H inner steps of B windows each)       -> loss_swarm
  2. centralized: E*H AdamW steps of 8*B windows, the same tokens (DDP-equivalent) -> loss_centralized
     one miner alone: E*H steps of B windows (what data parallelism has to beat)    -> loss_single_miner
  3. adversarial swarm: 14 honest + one of each adversary kind (30 %) for E' epochs  -> honest_share
  bytes_ratio     = dense fp32 pseudo-gradient bytes / artifact bytes a miner sends per epoch
  verify_fraction = validator compute / miner compute over both swarms: loss tests as measured, replay
                    audits at their expected rate (verify_fraction_measured: with the audits drawn)

Runs on one thread with deterministic algorithms. Prints progress; the last line is JSON.
    .venv/bin/python bench/bench_training.py [--preset small] [--epochs 10] [--adv-epochs 5]
    .venv/bin/python bench/bench_training.py --quick   # 4 + 2 epochs, for tuning only
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from hashgrad.work.adversaries import ADVERSARY_KINDS  # noqa: E402
from hashgrad.work.centralized import compute_centralized_training  # noqa: E402
from hashgrad.work.data import build_stdlib_dataset  # noqa: E402
from hashgrad.work.evaluate import compute_heldout_loss  # noqa: E402
from hashgrad.work.hashing import compute_tagged_hash  # noqa: E402
from hashgrad.work.miner import get_kernel, set_determinism_pins  # noqa: E402
from hashgrad.work.model import Checkpoint, compute_initial_state, compute_num_params  # noqa: E402
from hashgrad.work.params import get_preset  # noqa: E402
from hashgrad.work.swarm import build_swarm, run_epoch  # noqa: E402
from hashgrad.work.update import compute_milestone_steps  # noqa: E402

SWARM_MINERS = 8
ADVERSARIAL_HONEST = 14


def log(message: str) -> None:
    print(message, flush=True)


def run_swarm(params, dataset, checkpoint, kinds, epochs, label):
    swarm = build_swarm(params, dataset, checkpoint, kinds)
    records = []
    for _ in range(epochs):
        started = time.monotonic()
        record = run_epoch(swarm)
        records.append(record)
        earned = {k: round(sum(w for uid, w in record.weights.items() if kinds[uid] == k), 3) for k in sorted(set(kinds))}
        flags = sorted({r for r in record.reasons.values() if r})
        log(f"[{label}] epoch {record.epoch}: held-out {record.heldout_loss:.4f} accepted {record.accepted} "
            f"weight by kind {earned} flags {flags} audited {record.audited} ({time.monotonic() - started:.1f} s)")
    return records


def compute_verify_fractions(swarm, records, params) -> dict:
    """Validator compute / miner compute over `records`, with the replay audits at their expected rate.

    Audits are rare (audit_probability per tested miner and epoch) and the draw is a function of the
    seeds, so one run may hold none or several. Their cost is therefore counted as its expectation:
    p x (submissions tested) x (mean replayed steps) x (seconds per honest inner step, from the
    all-honest `swarm` records), and the audits that did happen are taken out of the measured validator
    time the same way. Both the expected and the plainly measured fraction are printed.
    """
    step_s = sum(r.miner_seconds for r in swarm) / (len(swarm) * SWARM_MINERS * params.inner_steps)
    depths = compute_milestone_steps(params) + (params.inner_steps,)
    miner_s = sum(r.miner_seconds for r in records)
    validator_s = sum(r.validator_seconds for r in records)
    audits_expected_s = params.audit_probability * sum(r.tested for r in records) * sum(depths) / len(depths) * step_s
    loss_tests_s = max(0.0, validator_s - sum(r.audit_steps for r in records) * step_s)
    return {
        "verify_fraction": (loss_tests_s + audits_expected_s) / miner_s,
        "verify_fraction_measured": validator_s / miner_s,
        "verify_loss_tests": loss_tests_s / miner_s,
        "verify_audits_expected": audits_expected_s / miner_s,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--adv-epochs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="4 swarm and 2 adversarial epochs (not the measurement)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.adv_epochs = 4, 2
    set_determinism_pins()
    params = get_preset(args.preset)
    dataset = build_stdlib_dataset(params.page_tokens)
    checkpoint = Checkpoint(params.model, compute_initial_state(params.model, 0))
    log(f"model {compute_num_params(params.model)} params, {dataset.manifest['num_pages']} pages, "
        f"H={params.inner_steps} B={params.batch_size} T={params.model.block_size}, kernel {get_kernel()}")
    initial = compute_heldout_loss(checkpoint, dataset)

    swarm = run_swarm(params, dataset, checkpoint, ["honest"] * SWARM_MINERS, args.epochs, "swarm")
    started = time.monotonic()
    central = compute_centralized_training(checkpoint, dataset, params, args.epochs * params.inner_steps,
                                           SWARM_MINERS * params.batch_size, compute_tagged_hash("bench/central", b""))
    loss_centralized = compute_heldout_loss(central, dataset)
    log(f"[centralized] {args.epochs * params.inner_steps} steps of {SWARM_MINERS * params.batch_size}: "
        f"held-out {loss_centralized:.4f} ({time.monotonic() - started:.1f} s)")

    started = time.monotonic()
    single = compute_centralized_training(checkpoint, dataset, params, args.epochs * params.inner_steps,
                                          params.batch_size, compute_tagged_hash("bench/single", b""))
    loss_single = compute_heldout_loss(single, dataset)
    log(f"[one miner alone] {args.epochs * params.inner_steps} steps of {params.batch_size}: "
        f"held-out {loss_single:.4f} ({time.monotonic() - started:.1f} s)")

    kinds = ["honest"] * ADVERSARIAL_HONEST + list(ADVERSARY_KINDS)
    adversarial = run_swarm(params, dataset, checkpoint, kinds, args.adv_epochs, "adversarial")

    records = swarm + adversarial
    dense_bytes = 4 * compute_num_params(params.model)
    sent = [b for r in records for b in r.artifact_bytes.values()]
    honest_weight = sum(w for r in adversarial for uid, w in r.weights.items() if kinds[uid] == "honest")
    tokens = args.epochs * SWARM_MINERS * params.inner_steps * params.batch_size * params.model.block_size
    result = {
        "loss_initial": initial,
        "loss_centralized": loss_centralized,
        "loss_swarm": swarm[-1].heldout_loss,
        "loss_ratio": swarm[-1].heldout_loss / loss_centralized,
        "loss_single_miner": loss_single,
        "bytes_ratio": dense_bytes / (sum(sent) / len(sent)),
        **compute_verify_fractions(swarm, records, params),
        "honest_share": honest_weight / len(adversarial),
        "loss_adversarial": adversarial[-1].heldout_loss,
        "audits": sum(r.audited for r in records),
        "tokens": tokens,
        "params": compute_num_params(params.model),
        "preset": args.preset,
        "epochs": args.epochs,
        "adv_epochs": args.adv_epochs,
        "kernel": get_kernel(),
        "chunk_size": params.chunk_size,
        "topk": params.topk,
        "ef_decay": params.ef_decay,
        "outer_lr": params.outer_lr,
        "outer_momentum": params.outer_momentum,
        "audit_probability": params.audit_probability,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
