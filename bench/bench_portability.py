#!/usr/bin/env python3
"""Benchmark of verification across hardware classes: honest drift, cheat distance, audit cost.

The classes available on one machine are its CPU kernels (ATEN_CPU_CAPABILITY=default, avx2,
avx512; a GPU or a Mac adds its own with --devices). Each class mines in its own process
(`python -m hashgrad.work.portability mine`: an honest update and one of each cheat, from one
shared checkpoint), then every class audits every *other* class's updates in its own process,
with the tolerance replay a validator of another class runs (work.crossclass).

    classes                 the hardware classes that mined
    honest_cross_class_pass fraction of (miner class, validator class) pairs whose honest update passed (goal 1.0)
    cheat_detected          fraction of cheats x class pairs that failed the audit (goal 1.0)
    drift_honest_max        the worst whole-run drift of an honest update across classes
    threshold               the job's threshold for the precision (WorkParams.drift_thresholds)
    threshold_suggested     DRIFT_MARGIN x drift_honest_max (what the job's threshold should be at least)
    drift_cheat_min         the smallest drift of any cheat on any pair (goal >= 3 x threshold)
    audit_cost_fraction     validator compute / miner compute at the job's audit probability:
                            p x (seconds of an honest cross-class audit) / (seconds of the honest run)

Runs each process on one thread. Prints progress; the last line is JSON.
    .venv/bin/python bench/bench_portability.py [--preset small] [--kernels default,avx2,avx512]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hashgrad.work.crossclass import DRIFT_MARGIN
from hashgrad.work.hardware import compute_kernel_env
from hashgrad.work.params import get_preset
from hashgrad.work.portability import CHEATS


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_portability(action: str, directory: Path, kernel: str, *extra: str) -> list[dict]:
    env = compute_kernel_env(kernel) | {"OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "hashgrad.work.portability", action, str(directory), *extra],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    if result.returncode != 0:
        raise SystemExit(f"{action} under {kernel} failed:\n{result.stderr[-3000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--kernels", default="default,avx2,avx512")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    args = parser.parse_args()
    params = get_preset(args.preset, precisions=("fp32", "bf16"))
    extra = ("--preset", args.preset, "--precision", args.precision)
    root = Path(tempfile.mkdtemp(prefix="hashgrad-portability-"))
    try:
        mined: dict[str, tuple[Path, str, dict]] = {}  # class -> (directory, kernel, seconds by kind)
        for kernel in args.kernels.split(","):
            directory = root / kernel
            directory.mkdir()
            first = next(iter(mined.values()), None)
            if first is not None:
                shutil.copy(first[0] / "checkpoint.safetensors", directory / "checkpoint.safetensors")
            records = run_portability("mine", directory, kernel, *extra)
            hw_class = records[0]["class"]
            if hw_class in mined:
                log(f"{kernel}: same class as another kernel ({hw_class}); skipped")
                continue
            mined[hw_class] = (directory, kernel, {r["kind"]: r["seconds"] for r in records})
            log(f"{kernel}: mined as {hw_class} (honest run {mined[hw_class][2]['honest']:.2f} s)")
        audits = []
        for miner_class, (directory, _, _) in mined.items():
            for validator_class, (_, kernel, _) in mined.items():
                if validator_class == miner_class:
                    continue
                for record in run_portability("audit", directory, kernel, "--preset", args.preset):
                    audits.append(record)
                    log(
                        f"{miner_class} -> {validator_class}: {record['kind']:<22} drift {record.get('drift', 0):.3e} "
                        f"{'pass' if record['passed'] else 'FAIL'} {record.get('reason') or ''} "
                        f"step {record.get('first_bad_step')}"
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    honest = [a for a in audits if a["kind"] == "honest"]
    cheats = [a for a in audits if a["kind"] in CHEATS]
    drift_honest_max = max(a["drift"] for a in honest) if honest else 0.0
    miner_seconds = {c: s["honest"] for c, (_, _, s) in mined.items()}
    cost = [a["seconds"] / miner_seconds[a["miner_class"]] for a in honest]
    print(
        json.dumps(
            {
                "preset": args.preset,
                "precision": args.precision,
                "classes": sorted(mined),
                "pairs": len(honest),
                "honest_cross_class_pass": sum(a["passed"] for a in honest) / len(honest) if honest else 0.0,
                "cheat_detected": sum(not a["passed"] for a in cheats) / len(cheats) if cheats else 0.0,
                "drift_honest_max": drift_honest_max,
                "threshold": params.get_drift_threshold(args.precision),
                "threshold_suggested": DRIFT_MARGIN * drift_honest_max,
                "drift_cheat_min": min(a["drift"] for a in cheats) if cheats else 0.0,
                "drift_cheat_by_kind": {k: min(a["drift"] for a in cheats if a["kind"] == k) for k in CHEATS},
                "audit_probability": params.audit_probability,
                "audit_cost_fraction": params.audit_probability * max(cost) if cost else 0.0,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
