#!/usr/bin/env python3
"""Sweep of rounds: H inner steps x R rounds x outer optimiser, 8 honest miners, equal tokens.

Each cell runs hashgrad.work.rounds (the code bench_training.py runs: public checks, a validator on
a salted share of rounds, Yuma per epoch, the per-round outer step) and compares the held-out loss
with centralized AdamW on the same tokens (R*H steps of 8*B windows, computed once per (H, R)).
Prints one JSON line per cell and, at the end, the markdown table for bench/README.md.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/sweep_rounds.py [--H 5 10 30] [--R 30 100 300]
        [--outer sparseloco nesterov average] [--preset rounds] [--model tiny]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace

from hashgrad.work.centralized import compute_centralized_training
from hashgrad.work.data import build_stdlib_dataset
from hashgrad.work.evaluate import compute_heldout_loss
from hashgrad.work.hashing import compute_tagged_hash
from hashgrad.work.miner import set_determinism_pins
from hashgrad.work.model import MODEL_PRESETS, Checkpoint, compute_initial_state, compute_num_params
from hashgrad.work.params import get_preset
from hashgrad.work.rounds import build_round_swarm, run_epoch_rounds

MINERS = 8
OUTER_SETTINGS = {  # the outer step each optimiser is measured with
    "sparseloco": dict(outer_optimizer="sparseloco", outer_lr=1.0, outer_momentum=0.0, ef_decay=0.95),
    "nesterov": dict(outer_optimizer="nesterov", outer_lr=0.7, outer_momentum=0.9, ef_decay=1.0),
    "average": dict(outer_optimizer="average", outer_lr=1.0, outer_momentum=0.0, ef_decay=1.0),
}


def run_cell(params, dataset, checkpoint, rounds: int) -> tuple[float, float, float]:
    """(final held-out loss, mean artifact bytes per miner per round, seconds)."""
    started = time.monotonic()
    swarm = build_round_swarm(params, dataset, checkpoint, ["honest"] * MINERS)
    sent = []
    while swarm.round < rounds:
        summary = run_epoch_rounds(swarm)
        sent += [b for r in summary.rounds for b in r.artifact_bytes.values()]
    return summary.heldout_loss, sum(sent) / len(sent), time.monotonic() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="rounds")
    parser.add_argument("--H", type=int, nargs="+", default=[5, 10, 30])
    parser.add_argument("--R", type=int, nargs="+", default=[30, 100, 300])
    parser.add_argument("--outer", nargs="+", default=list(OUTER_SETTINGS))
    parser.add_argument("--model", default=None, help="a model preset instead of the job preset's (e.g. tiny)")
    args = parser.parse_args(argv)
    set_determinism_pins()
    base = get_preset(args.preset)
    if args.model:
        base = replace(base, model=MODEL_PRESETS[args.model]).check()
    dataset = build_stdlib_dataset(base.page_tokens)
    checkpoint = Checkpoint(base.model, compute_initial_state(base.model, 0))
    dense = 4 * compute_num_params(base.model)
    rows = []
    for h in args.H:
        for r in args.R:
            params = replace(base, inner_steps=h, rounds_per_epoch=min(base.rounds_per_epoch, r)).check()
            central = compute_heldout_loss(
                compute_centralized_training(
                    checkpoint,
                    dataset,
                    params,
                    r * h,
                    MINERS * params.batch_size,
                    compute_tagged_hash("bench/central", b""),
                ),
                dataset,
            )
            for outer in args.outer:
                loss, sent, seconds = run_cell(replace(params, **OUTER_SETTINGS[outer]).check(), dataset, checkpoint, r)
                row = dict(
                    H=h,
                    rounds=r,
                    outer=outer,
                    loss_swarm=round(loss, 4),
                    loss_centralized=round(central, 4),
                    loss_ratio=round(loss / central, 4),
                    bytes_per_miner_round=round(sent),
                    bytes_ratio=round(dense / sent, 1),
                    seconds=round(seconds, 1),
                )
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("| H | rounds | outer | loss_ratio | swarm | centralized | bytes/miner/round |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['H']} | {row['rounds']} | {row['outer']} | {row['loss_ratio']:.3f} | {row['loss_swarm']:.3f} | "
            f"{row['loss_centralized']:.3f} | {row['bytes_per_miner_round']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
