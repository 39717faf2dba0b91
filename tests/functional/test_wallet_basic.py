"""Functional test of the wallet against a real regtest node process on loopback.

Narrated as Bitcoin Core's functional tests are: start `hashgrad node`, mine to alice's address with
`hashgrad rpc generatetoaddress`, send from alice to bob with `hashgrad wallet send`, mine a block,
and see bob's balance; along the way check the insufficient-funds, network-mismatch and
node-unreachable errors. Every command is a real process; waits poll a condition with a deadline.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hashgrad.chain.params import COIN

pytestmark = pytest.mark.functional
log = logging.getLogger("wallet_functional")

REPO = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT_S = 60
START_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WalletNodeHarness:
    """One regtest node process and helpers to run `hashgrad ...` commands against it."""

    def __init__(self, tmp_path: Path, env: dict):
        self.datadir = tmp_path / "node"
        self.env = env
        self.rpcport = _free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log.info("starting a regtest node on rpc port %d", self.rpcport)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hashgrad",
                "node",
                "--network",
                "regtest",
                "--datadir",
                str(self.datadir),
                "--bind",
                "127.0.0.1",
                "--port",
                str(_free_port()),
                "--rpcport",
                str(self.rpcport),
            ],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait_for(self._answers_rpc, "the node's RPC to answer")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def wait_for(self, condition, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not condition():
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"node exited with {self.process.returncode} while waiting for {what}; "
                    f"see {self.datadir / 'node.log'}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def _answers_rpc(self) -> bool:
        return (self.datadir / ".cookie").exists() and self.rpc("getblockcount").returncode == 0

    def hashgrad(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "hashgrad", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )

    def rpc(self, *args: str) -> subprocess.CompletedProcess:
        return self.hashgrad("rpc", "--datadir", str(self.datadir), "--rpcport", str(self.rpcport), *args)

    def wallet(self, action: str, *args: str) -> subprocess.CompletedProcess:
        node = ["--datadir", str(self.datadir), "--rpcport", str(self.rpcport)]
        return self.hashgrad("wallet", action, *args, *node)

    def balance(self, name: str) -> dict:
        result = self.wallet("balance", name, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def harness(tmp_path):
    env = dict(
        os.environ,
        HASHGRAD_HOME=str(tmp_path / "home"),
        HASHGRAD_PASSWORD="functional test password",
        HASHGRAD_WALLET_SCRYPT_N="1024",
    )
    node = WalletNodeHarness(tmp_path, env)
    try:
        yield node
    finally:
        node.stop()


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _reason(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    return result.stderr.split("error: ", 1)[1].split(":")[0].strip()


def test_wallet_send_between_wallets_on_a_regtest_node(harness):
    alice = _ok(harness.hashgrad("wallet", "create", "alice")).splitlines()[-1]
    bob = _ok(harness.hashgrad("wallet", "create", "bob")).splitlines()[-1]
    _ok(harness.hashgrad("wallet", "create", "dev", "--network", "devnet"))
    harness.start()

    log.info("mine two blocks to alice")
    _ok(harness.rpc("generatetoaddress", "2", alice))
    before = harness.balance("alice")
    assert before["balance"] > 2 * COIN and before["pending_txs"] == 0

    log.info("alice sends 1.25 to bob")
    sent = _ok(harness.wallet("send", "alice", bob, "1.25")).splitlines()
    txid = sent[-1]
    assert len(txid) == 64 and all(c in "0123456789abcdef" for c in txid)
    pending = harness.balance("alice")
    fee = before["balance"] - pending["pending_balance"] - 125_000_000
    assert pending["pending_txs"] == 1 and pending["pending_nonce"] == 1 and fee == 155
    assert harness.balance("bob")["balance"] == 0

    log.info("more than alice has left is refused before signing")
    too_much = f"{pending['pending_balance'] / COIN + 1:.8f}"
    assert _reason(harness.wallet("send", "alice", bob, too_much)) == "insufficient-funds"

    log.info("a block confirms the transfer")
    _ok(harness.rpc("generatetoaddress", "1", alice))
    harness.wait_for(lambda: harness.balance("bob")["balance"] == 125_000_000, "bob's balance")
    assert json.loads(_ok(harness.rpc("gettransaction", txid)))["confirmations"] == 1
    assert txid in _ok(harness.wallet("history", "bob"))
    history = json.loads(_ok(harness.wallet("history", "alice", "--json")))
    assert any(item["txid"] == txid and item["direction"] == "out" for item in history)

    log.info("a devnet wallet against a regtest node, then a stopped node")
    assert _reason(harness.wallet("balance", "dev")) == "network-mismatch"
    harness.stop()
    assert _reason(harness.wallet("balance", "alice")) == "node-unreachable"
    assert _reason(harness.wallet("send", "alice", bob, "1")) == "node-unreachable"
