"""A miner that scales inside itself: `torchrun --nproc-per-node 2` with gloo on CPU trains one update
data-parallel; it declares a 2-process class and a one-process validator of the same kernel accepts
it with a tolerance replay, as it accepts any other class."""

from __future__ import annotations

import json
import subprocess
import sys

from hashgrad.work.hardware import CPU_FP32, compute_kernel_env
from hashgrad.work.miner import set_determinism_pins
from hashgrad.work.model import decode_checkpoint
from hashgrad.work.portability import compute_audit_record, load_inputs


def test_two_process_ddp_update_is_accepted_like_a_one_process_update(tmp_path):
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "hashgrad.work.portability",
        "mine",
        str(tmp_path),
        "--kinds",
        "honest",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=compute_kernel_env() | {"OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    mined = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(mined) == 1 and mined[0]["class"] == CPU_FP32.get_class().to_text()[:-1] + "2"  # rank 0 alone writes
    set_determinism_pins()
    params, dataset = load_inputs("tiny")
    record = compute_audit_record(
        "honest",
        decode_checkpoint((tmp_path / "checkpoint.safetensors").read_bytes()),
        dataset,
        params,
        (tmp_path / "honest.update").read_bytes(),
        (tmp_path / "honest.reveal").read_bytes(),
        CPU_FP32,
    )
    assert record["mode"] == "tolerance" and record["passed"] and record["drift"] < record["threshold"], record
