"""Cross-class audits with real processes: a miner under ATEN_CPU_CAPABILITY=avx2, a validator under
default. The kernel is fixed when a process starts, so each side is its own process
(`python -m hashgrad.work.portability mine|audit`); the honest update passes a tolerance replay and
every cheat fails it, with the reason and the step that bisection names."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hashgrad.work.hardware import compute_kernel_env

H, STRIDE = 12, 5  # the tiny preset: milestones after steps 5 and 10
FIRST_BAD_STEP = {  # where each cheat's claimed trajectory first leaves what the data and steps give
    "skipped-steps": 10,  # ran 6 steps: its milestone 5 is genuine, 10 is made up
    "other-pages": 5,
    "old-update": 5,
    "fewer-steps-larger-lr": 5,  # wrong from the first segment
    "scaled": H,
    "noised": H,  # a true trajectory, a false Δ: only the last segment disagrees
}


def run_portability(action: str, directory, kernel: str) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "hashgrad.work.portability", action, str(directory)],
        capture_output=True,
        text=True,
        timeout=300,
        env=compute_kernel_env(kernel),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_honest_update_passes_and_every_cheat_fails_across_kernels(tmp_path):
    mined = run_portability("mine", tmp_path, "avx2")
    audits = {r["kind"]: r for r in run_portability("audit", tmp_path, "default")}
    miner_class, validator_class = mined[0]["class"], audits["honest"]["validator_class"]
    if miner_class == validator_class:
        pytest.skip(f"this CPU gives both processes one kernel ({miner_class})")
    assert {r["class"] for r in mined} == {miner_class} and "/AVX2/" in miner_class
    honest = audits.pop("honest")
    assert honest["mode"] == "tolerance" and honest["passed"] and honest["reason"] is None
    assert 0 < honest["drift"] < honest["threshold"]
    assert set(audits) == set(FIRST_BAD_STEP)
    for kind, record in audits.items():
        assert not record["passed"] and record["reason"] == "drift-exceeded", record
        assert record["drift"] > 3 * record["threshold"], record
        assert record["first_bad_step"] == FIRST_BAD_STEP[kind], record
