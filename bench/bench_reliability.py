"""Benchmark: reliability of a node against crashes, hostile input and hostile peers (issue 17).

    .venv/bin/python bench/bench_reliability.py [--kills 100] [--fuzz-seconds 20] [--atheris-runs 50000]
                                                [--hostile-seconds 30] [--skip crash,fuzz,hostile,mempool]

Prints one line per part, then one JSON line with every figure:

    kills, corrupt, lost        a ledger process SIGKILLed at random moments of block connect, sync and
                                reorg; after each restart its state equals a replay from genesis
                                (bench/reliability_crash.py; goal 100, 0, 0)
    fuzz_inputs, fuzz_failures  every decoder (tools/fuzz_targets.py): random and mutated-seed inputs
                                in-process for --fuzz-seconds, plus --atheris-runs coverage-guided inputs
                                (tools/fuzz.py) when atheris is installed; a failure is any exception
                                other than HashgradError (goal 0). The >= 10^6-input run is
                                `python tools/fuzz.py -- -runs=1000000`.
    hostile_peers, honest_sync_ok, rss_mb
                                one node, 100 hostile connections (garbage, slow senders, header floods,
                                addr floods, oversize frames) retried for --hostile-seconds, keeps syncing
                                from its honest peer (bench/reliability_hostile.py)
    mempool_connect_ratio       block connect with a full mempool / with an empty one
                                (bench/reliability_mempool.py; goal <= 2)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def run_fuzz(seconds: float, atheris_runs: int, seed: int = 17) -> dict:
    from tools.fuzz_targets import TARGETS, FuzzFailure, build_seeds, mutate, run_target

    seeds, rng = build_seeds(), random.Random(seed)
    inputs = failures = 0
    examples = []
    deadline = time.monotonic() + seconds
    names = sorted(TARGETS)
    while time.monotonic() < deadline:
        for name in names:
            if rng.random() < 0.7:
                data = mutate(rng.choice(seeds[name]), rng.randbytes(rng.randint(4, 64)))
            else:
                data = rng.randbytes(rng.randint(0, 600))
            inputs += 1
            try:
                run_target(name, data)
            except FuzzFailure as exc:
                failures += 1
                examples.append(str(exc)[:200])
    result = {"fuzz_inputs_random": inputs, "fuzz_failures_random": failures, "fuzz_examples": examples[:5]}
    atheris_inputs = atheris_failures = 0
    if atheris_runs:
        try:
            import atheris  # noqa: F401 - only to know whether the coverage-guided run is possible
        except ImportError:
            result["atheris"] = "not installed (pip install atheris); coverage-guided run skipped"
        else:
            proc = subprocess.run(
                [sys.executable, str(ROOT / "tools" / "fuzz.py"), "--", f"-runs={atheris_runs}"],
                capture_output=True,
                text=True,
                env=dict(os.environ, OMP_NUM_THREADS="1"),
            )
            done = re.search(r"Done (\d+) runs", proc.stderr + proc.stdout)
            atheris_inputs = int(done.group(1)) if done else 0
            atheris_failures = 0 if proc.returncode == 0 and done else 1
            if atheris_failures:
                result["atheris_tail"] = (proc.stderr + proc.stdout)[-1500:]
    result |= {
        "fuzz_inputs": inputs + atheris_inputs,
        "fuzz_failures": failures + atheris_failures,
        "fuzz_inputs_atheris": atheris_inputs,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--fuzz-seconds", type=float, default=20.0)
    parser.add_argument("--atheris-runs", type=int, default=50_000)
    parser.add_argument("--hostile-seconds", type=float, default=30.0)
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    figures: dict = {}
    started = time.monotonic()
    if "crash" not in skip:
        from reliability_crash import run_crash_bench

        figures |= run_crash_bench(args.kills)
        print("crash:", {k: figures[k] for k in ("kills", "corrupt", "lost", "crash_s")}, flush=True)
    if "fuzz" not in skip:
        figures |= run_fuzz(args.fuzz_seconds, args.atheris_runs)
        print("fuzz:", {k: v for k, v in figures.items() if k.startswith("fuzz")}, flush=True)
    if "hostile" not in skip:
        from reliability_hostile import run_hostile_bench

        figures |= run_hostile_bench(args.hostile_seconds)
        print(
            "hostile:",
            {k: figures[k] for k in ("hostile_peers", "honest_sync_ok", "rss_mb", "hostile_banned")},
            flush=True,
        )
    if "mempool" not in skip:
        from reliability_mempool import run_mempool_bench

        figures |= run_mempool_bench()
        print("mempool:", {k: v for k, v in figures.items() if k.startswith("mempool")}, flush=True)
    figures["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
