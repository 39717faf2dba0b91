"""The main job as a functional test: a short `hashgrad devnet` (2 miners, 1 validator, 1 adversary,
2 epochs, plus one honest and one cheating inference server on job 1) run as a real process tree on
loopback, then checked against the chain it left behind.

- every epoch's checkpoint was recorded on chain and the final checkpoint file hashes to it;
- the held-out loss fell and the adversary earned nothing while honest miners earned; on job 1 the
  honest server earned and the random-token server did not;
- the summary's emissions equal what the chain says each hotkey earned, and each hotkey's balance
  read back over RPC equals its funding plus those emissions minus the fees it paid;
- no process of the run is left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from functional.framework import REPO_ROOT, TestNode
from hashgrad.devnet.setup import FUND_HOTKEY

pytestmark = pytest.mark.functional

RUN_TIMEOUT_S = 480


def pick_port_base() -> int:
    """A base whose ports (+0, +1 P2P; +100, +101 RPC) are free right now."""
    for _ in range(50):
        base = random.randrange(20_000, 55_000)
        try:
            for offset in (0, 1, 100, 101):
                import socket

                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise AssertionError("no free port range")


def find_processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def devnet_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("devnet") / "run"
    command = [
        sys.executable,
        "-m",
        "hashgrad",
        "devnet",
        "--miners",
        "2",
        "--validators",
        "1",
        "--adversaries",
        "1",
        "--epochs",
        "2",
        "--servers",
        "1",
        "--server-adversaries",
        "random",
        "--no-web",
        "--out",
        str(out),
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
    return out, json.loads((out / "summary.json").read_text()), result.stdout


def test_devnet_trains_and_pays_only_honest_work(devnet_run):
    _, summary, _ = devnet_run
    epochs = summary["epochs"]
    assert len(epochs) == 2
    assert epochs[-1]["heldout_loss"] < summary["initial_heldout_loss"]
    last = {row["uid"]: row for row in epochs[-1]["uids"]}
    adversaries = [row for row in last.values() if row["adversary"]]
    honest_miners = [row for row in last.values() if row["role"] == "miner" and not row["adversary"]]
    assert [row["adversary"] for row in adversaries] == ["lazy"]
    assert all(row["total_earned"] == 0 for row in adversaries)
    assert all(row["total_earned"] > 0 for row in honest_miners)
    validators = [row for row in last.values() if row["role"] == "validator"]
    assert all(row["total_earned"] > 0 for row in validators)
    servers = [row for row in epochs[-1]["inference"]["uids"] if row["role"] == "miner"]
    assert [row["total_earned"] > 0 for row in servers if not row["adversary"]] == [True]
    assert [row["total_earned"] for row in servers if row["adversary"] == "random"] == [0]


def test_devnet_leaves_no_process_behind(devnet_run):
    out, _, _ = devnet_run
    assert find_processes_mentioning(str(out)) == []


def test_devnet_summary_matches_the_chain(devnet_run):
    out, summary, _ = devnet_run
    node = TestNode(0, out / "nodes", network="devnet")
    node.start()
    try:
        # the final checkpoint file is the one the chain recorded
        data = (out / "final" / "checkpoint.safetensors").read_bytes()
        assert hashlib.sha256(data).hexdigest() == summary["final"]["checkpoint"]
        last_epoch = summary["epochs"][-1]["epoch"]
        assert node.rpc.call("getepoch", 0, last_epoch + 1)["checkpoint"] == summary["final"]["checkpoint"]
        for entry in summary["epochs"]:
            assert node.rpc.call("getepoch", 0, entry["epoch"] + 1)["checkpoint"] == entry["checkpoint"]
        # emissions in the summary == what the chain credited == balances read back over RPC
        for job, rows_of in ((0, lambda e: e["uids"]), (1, lambda e: e["inference"]["uids"])):
            on_chain = {u["uid"]: u for u in node.rpc.call("getmetagraph", job)["uids"]}
            for row in rows_of(summary["epochs"][-1]):
                total = sum(
                    next(r["emission"] for r in rows_of(e) if r["uid"] == row["uid"]) for e in summary["epochs"]
                )
                assert total == row["total_earned"] == on_chain[row["uid"]]["total_earned"]
                history = node.rpc.call("getaddresshistory", row["address"], 1000)
                fees = sum(item["fee"] for item in history if item["direction"] == "out")
                assert node.rpc.call("getaccount", row["address"])["balance"] == FUND_HOTKEY + total - fees
        assert node.rpc.call("getsupply")["balanced"] is True
    finally:
        node.cleanup()
