"""Time one Yuma epoch (pure-Python I32F32) for 256 uids of which 64 are validators.

Usage: python bench/bench_yuma.py [--uids 256] [--validators 64] [--repeat 5]
Prints one line per variant and, last, a JSON line with the median seconds of each.
The inputs are seeded and realistic: each validator weights every miner (sparse 1-in-4
zeros), bonds come from a warm-up epoch, and Yuma 3 runs with liquid alpha on.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from hashgrad.incentive.yuma import YumaParams, compute_yuma_epoch


def build_inputs(n: int, validators: int, seed: int = 7):
    rng = random.Random(seed)
    stake = [rng.randrange(1, 10**15) if uid < validators else 0 for uid in range(n)]
    weights = []
    for uid in range(n):
        if uid < validators:
            row = [0 if (j < validators or rng.random() < 0.25) else rng.randrange(1, 65536) for j in range(n)]
            weights.append(row)
        else:
            weights.append([0] * n)
    return weights, stake


def time_epochs(weights, stake, params: YumaParams, repeat: int) -> float:
    bonds = compute_yuma_epoch(weights, stake, None, params).bonds  # warm-up: realistic non-zero bonds
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        compute_yuma_epoch(weights, stake, bonds, params)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uids", type=int, default=256)
    parser.add_argument("--validators", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    weights, stake = build_inputs(args.uids, args.validators)
    variants = {
        "yuma2": YumaParams(),
        "yuma3_liquid_alpha": YumaParams(
            yuma3=True, liquid_alpha=True, bonds_penalty_u16=0, alpha_low_u16=6554, alpha_high_u16=19661
        ),
    }
    figures = {"uids": args.uids, "validators": args.validators, "repeat": args.repeat}
    for name, params in variants.items():
        seconds = time_epochs(weights, stake, params, args.repeat)
        figures[f"{name}_epoch_s"] = round(seconds, 4)
        print(f"{name}: {seconds * 1000:.1f} ms per epoch ({args.uids} uids, {args.validators} validators)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
