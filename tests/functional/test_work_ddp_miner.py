"""A miner that scales inside itself: `torchrun --nproc-per-node 2` with gloo on CPU trains one update
data-parallel; it declares a 2-process class and a one-process validator of the same kernel accepts
it with a tolerance replay, as it accepts any other class."""

from __future__ import annotations

import json
import subprocess
import sys

from functional.framework import find_free_port
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


CONTROL_CHILD = """
import sys, time
from datetime import timedelta
import torch
from hashgrad.work.distributed import broadcast_bytes, broadcast_epoch, close_distributed, init_distributed

wait, collectives = timedelta(seconds=60), timedelta(seconds=1)
rank, world = init_distributed(torch.device("cpu"), epoch_wait=wait, collective_timeout=collectives)
if rank == 0:
    time.sleep(3)  # rank 0 works for longer than the collectives' timeout before the next epoch
    got = broadcast_epoch(7, bytes(range(32)), bytes(32)), broadcast_bytes(b"the checkpoint")
else:
    got = broadcast_epoch(), broadcast_bytes()
print(repr(got), flush=True)
close_distributed()
"""


def test_followers_wait_for_the_next_epoch_longer_than_the_collectives_timeout(tmp_path):
    """The other ranks wait in `broadcast_epoch` from one epoch to the next (a main-network epoch is
    ~5 h): the epoch messages travel in a control group whose timeout is not the training
    collectives' (torch's default, 30 min, ended the miner between two epochs)."""
    env = compute_kernel_env() | {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(find_free_port()), "WORLD_SIZE": "2"}
    ranks = [
        subprocess.Popen(
            [sys.executable, "-c", CONTROL_CHILD],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env | {"RANK": str(rank), "LOCAL_RANK": str(rank), "OMP_NUM_THREADS": "1"},
        )
        for rank in (0, 1)
    ]
    outputs = [process.communicate(timeout=120) for process in ranks]
    assert [p.returncode for p in ranks] == [0, 0], [err[-2000:] for _, err in outputs]
    expected = repr(((7, bytes(range(32)), bytes(32)), b"the checkpoint"))
    assert [out.strip() for out, _ in outputs] == [expected, expected]
