"""Reliability bench, part: a ledger process SIGKILLed at random moments of block connect, sync and
reorg (bench/reliability_crash_writer.py), >= 100 times; after each kill the store is reopened and its
state (every table a connect touches) compared with a replay of its active chain from genesis.

    kills     SIGKILLs delivered while the writer was connecting blocks
    corrupt   reopenings that failed, or whose state differed from the replay, or whose supply audit
              was unbalanced
    lost      reopenings whose tip was below the last height the writer had reported as connected
              (a block that returned from submit_block must survive the kill)

A fresh datadir every ROUNDS_PER_DIR kills keeps the replays short.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
sys.path.insert(0, str(TESTS))

from hashgrad.node.ledger import Ledger  # noqa: E402
from support.ledger import NOW, PARAMS, dump_all, replay_active_chain  # noqa: E402

ROUNDS_PER_DIR = 20
WAIT_S = 60


def start_writer(datadir: Path, seed: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), str(TESTS), os.environ.get("PYTHONPATH")])),
        OMP_NUM_THREADS="1",
    )
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "reliability_crash_writer.py"), str(datadir), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_progress(proc: subprocess.Popen, rng: random.Random) -> int:
    """Let the writer report 1-4 accepted blocks; returns the last height it reported."""
    reported, wanted = -1, rng.randint(1, 4)
    deadline = time.monotonic() + WAIT_S
    while wanted and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"writer exited (rc {proc.wait()}): {proc.stderr.read()[-2000:]}")
        reported = int(line.split()[1])
        wanted -= 1
    return reported


def check_store(datadir: Path, scratch: Path) -> tuple[int, bool]:
    """(tip height, consistent) of the reopened store against a replay from genesis."""
    try:
        ledger = Ledger(PARAMS, datadir, clock=lambda: NOW)
    except Exception:  # noqa: BLE001 - a store that cannot reopen is what `corrupt` counts
        return -1, False
    try:
        chainstate = ledger.chainstate
        replay = replay_active_chain(chainstate, scratch)
        try:
            same = dump_all(replay) == dump_all(chainstate)
        finally:
            replay.close()
        return chainstate.height, same and ledger.compute_supply_audit().is_balanced
    except Exception:  # noqa: BLE001
        return -1, False
    finally:
        ledger.close()


def run_crash_bench(kills: int = 100, seed: int = 7) -> dict:
    rng = random.Random(seed)
    done = corrupt = lost = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(kills):
            datadir = Path(tmp) / f"node-{round_ // ROUNDS_PER_DIR}"
            writer = start_writer(datadir, rng.randrange(1 << 30))
            try:
                reported = read_progress(writer, rng)
                time.sleep(rng.uniform(0.0, 0.05))  # land anywhere in the next connect, sync or reorg
            finally:
                writer.send_signal(signal.SIGKILL)
                writer.communicate()
            done += writer.returncode == -signal.SIGKILL
            height, consistent = check_store(datadir, Path(tmp) / f"replay-{round_}")
            corrupt += not consistent
            lost += height < reported
    return {"kills": done, "corrupt": corrupt, "lost": lost, "crash_s": round(time.monotonic() - started, 1)}


if __name__ == "__main__":
    print(run_crash_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
