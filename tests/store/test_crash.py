"""Crash safety: a writer process mining blocks with transfers is SIGKILLed at random moments; each
time the store must reopen with its tip on the active chain, a state identical to a replay of that
chain from genesis, a balanced supply, and a writer that carries on from there."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from hashgrad.node.ledger import Ledger
from hashgrad.store.chainstate import ChainState
from support.ledger import ALICE, BOB, NOW, PARAMS, dump_all, make_block, make_child, mine, replay_active_chain

TESTS_DIR = Path(__file__).resolve().parents[1]
ROUNDS = 6
WAIT_S = 60


def start_writer(datadir: Path, seed: int, stop_height: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])))
    return subprocess.Popen(
        [sys.executable, "-m", "store.crash_writer", str(datadir), str(seed), str(stop_height)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_height(proc: subprocess.Popen, above: int) -> int:
    """Read the writer's progress until it reports a tip above `above`."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"writer exited (rc {proc.wait()}): {proc.stderr.read()[-2000:]}")
        height = int(line.split()[1])
        if height > above:
            return height
    raise AssertionError(f"writer did not pass height {above} in {WAIT_S} s")


def check_store(datadir: Path, scratch: Path) -> int:
    """Reopen the store and check it against a replay from genesis; returns the tip height."""
    ledger = Ledger(PARAMS, datadir, clock=lambda: NOW)  # opening checks that tip and active chain agree
    try:
        chainstate = ledger.chainstate
        for height, block_hash in enumerate(chainstate.active):
            entry = chainstate.index[block_hash]
            assert entry.height == height and not entry.is_failed()
            assert height == 0 or entry.prev == chainstate.active[height - 1]
        assert chainstate.is_on_active_chain(chainstate.tip)
        replay = replay_active_chain(chainstate, scratch)
        try:
            assert dump_all(replay) == dump_all(chainstate)
        finally:
            replay.close()
        audit = ledger.compute_supply_audit()
        assert audit.is_balanced, audit.to_json()
        return chainstate.height
    finally:
        ledger.close()


def test_sigkill_writer_store_reopens_consistent(tmp_path):
    datadir = tmp_path / "node"
    rng = random.Random(20120459)
    height = 0
    for round_ in range(ROUNDS):
        writer = start_writer(datadir, round_, stop_height=1_000_000)
        try:
            reported = wait_for_height(writer, height)  # the writer continues from the reopened tip
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            writer.send_signal(signal.SIGKILL)
            _, err = writer.communicate()
        assert writer.returncode == -signal.SIGKILL, err[-2000:]
        height = check_store(datadir, tmp_path / f"replay-{round_}")
        assert height >= reported
    writer = start_writer(datadir, ROUNDS, stop_height=height + 3)
    out, err = writer.communicate(timeout=WAIT_S)
    assert writer.returncode == 0, err[-2000:]
    assert check_store(datadir, tmp_path / "replay-final") == height + 3


def test_reopen_finishes_interrupted_reorg(tmp_path):
    """Killed after the old branch was disconnected and the better block stored, before the new
    branch was connected: on reopen the chainstate moves to the most-work chain by itself."""
    chainstate = ChainState(PARAMS, tmp_path / "node")
    fork = chainstate.tip
    for _ in range(2):
        mine(chainstate, (), payout=ALICE.pubkey)
    b1 = make_child(chainstate, parent_hash=fork.hash, payout=BOB.pubkey)
    b2 = make_block(b1.hash, 2, b1.header.time + 60, payout=BOB.pubkey)
    b3 = make_block(b2.hash, 3, b2.header.time + 60, payout=BOB.pubkey)
    for block in (b1, b2):
        chainstate.accept_block(block, NOW)
    with chainstate.lock:  # the crash: both disconnects committed, b3 stored, nothing connected yet
        chainstate._disconnect_tip()
        chainstate._disconnect_tip()
        chainstate._activate_best_chain = lambda result: None
        assert chainstate.accept_block(b3, NOW).status == "side-branch"
    chainstate.close()
    reopened = ChainState(PARAMS, tmp_path / "node")
    try:
        assert reopened.tip.hash == b3.hash
        replay = replay_active_chain(reopened, tmp_path / "replay")
        try:
            assert dump_all(replay) == dump_all(reopened)
        finally:
            replay.close()
    finally:
        reopened.close()
