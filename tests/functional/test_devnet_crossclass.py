"""Mining on other hardware, through the whole network: a `hashgrad devnet` whose miners run under
ATEN_CPU_CAPABILITY=avx2 and whose validator runs under `default` (another hardware class), so the
validator cannot replay a miner's bits and audits by tolerance replay from the miner's reveal.

Each miner stores its reveal (Δ and milestone states) on its node as chunks under a manifest its
update names; the validator fetches the reveal through its own node only for the updates it audits.
The cheat is a sandbagger: it runs a quarter of the steps and extrapolates the rest, and its reveal
matches every hash it committed, so only the replay can catch it. The validator audits every update
(`--audit-probability 1`: the job's 2 % would rarely draw one in a single epoch). The job's genesis
checkpoint is the tiny model, so that a replay under the slow `default` kernel fits the scoring window
(the demo model's replay takes tens of seconds). One epoch of 4 s blocks; about 3-4 minutes on 2 busy cores.

- the validator fetched each miner's reveal for a cross-class audit (declared class AVX2);
- the honest miner's audit passed and it earned; the sandbagger's audit failed, bisection named
  step 10 (its milestone 5 is genuine, 10 is made up), and it earned nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch

from functional.framework import REPO_ROOT
from functional.test_devnet_demo import pick_port_base
from hashgrad.work.model import Checkpoint, compute_initial_state, encode_checkpoint
from hashgrad.work.params import get_preset

pytestmark = [pytest.mark.functional, pytest.mark.timeout(480)]

RUN_TIMEOUT_S = 450


@pytest.fixture(scope="module")
def devnet_run(tmp_path_factory):
    if not torch.cpu._is_avx2_supported():
        pytest.skip("this CPU has no AVX2 kernel: miners and validator would share a class")
    out = tmp_path_factory.mktemp("devnet-crossclass")
    config = get_preset("tiny").model
    (out / "tiny.safetensors").write_bytes(encode_checkpoint(Checkpoint(config, compute_initial_state(config, 0))))
    command = [
        sys.executable,
        "-m",
        "hashgrad",
        "devnet",
        "--miners",
        "1",
        "--adversaries",
        "sandbagger",
        "--epochs",
        "1",
        "--block-interval",
        "4",  # a 20 s scoring window: two replays under `default` took 10-12 s, once over 15, on busy cores
        "--checkpoint",
        str(out / "tiny.safetensors"),
        "--miner-kernel",
        "avx2",
        "--validator-kernel",
        "default",
        "--audit-probability",
        "1",
        "--no-web",
        "--out",
        str(out / "run"),
        "--port-base",
        str(pick_port_base()),
    ]
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert result.returncode == 0, f"devnet failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    summary = json.loads((out / "run" / "summary.json").read_text())
    return summary, (out / "run" / "logs" / "validator0.log").read_text()


def test_a_validator_of_another_class_pays_honest_work_and_catches_a_sandbagger(devnet_run):
    summary, log = devnet_run
    rows = {row["uid"]: row for row in summary["epochs"][-1]["uids"]}
    honest = [row for row in rows.values() if row["role"] == "miner" and not row["adversary"]]
    cheat = [row for row in rows.values() if row["adversary"] == "sandbagger"]
    assert len(honest) == 1 and len(cheat) == 1
    fetched = dict(re.findall(r"fetched uid (\d+)'s reveal \(class (\S+)\) for a cross-class audit", log))
    assert set(fetched) == {str(honest[0]["uid"]), str(cheat[0]["uid"])}, log[-3000:]
    assert all("/AVX2/" in hardware for hardware in fetched.values())
    assert f"uid {honest[0]['uid']} audit passed" in log
    assert re.search(rf"uid {cheat[0]['uid']} audit failed after \d+ replayed steps \(first diverging step 10\)", log)
    assert honest[0]["total_earned"] > 0
    assert cheat[0]["total_earned"] == 0
