"""Helpers of the explorer tests: a real `hashgrad explorer` process, HTTP GETs, and a regtest chain
with blocks, registrations, stake and a transfer made through the node's RPC (as a wallet would)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from functional.framework import REPO_ROOT, TestNode, find_free_port, wait_until
from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.coordination_make import make_register, make_stake
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.tx import make_transfer

COIN = 10**8


def http_get(url_base: str, path: str, method: str = "GET") -> tuple[int, object, dict]:
    """(status, decoded JSON or text, headers) of one request to the explorer."""
    host_port = url_base.split("//", 1)[1].rstrip("/")
    connection = http.client.HTTPConnection(host_port, timeout=30)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        raw = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()
    if headers.get("content-type", "").startswith("application/json"):
        return response.status, json.loads(raw), headers
    return response.status, raw.decode("utf-8", "replace"), headers


class ExplorerProcess:
    """`python -m hashgrad explorer ...` on a free loopback port; `stop()` always leaves no process."""

    def __init__(self, datadir: Path, rpc_port: int, live: Path | None, log_path: Path, network: str = "regtest"):
        self.port = find_free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        command = [
            sys.executable,
            "-m",
            "hashgrad",
            "explorer",
            "--network",
            network,
            "--datadir",
            str(datadir),
            "--rpcport",
            str(rpc_port),
            "--port",
            str(self.port),
        ]
        if live is not None:
            command += ["--live", str(live)]
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )

    def wait_ready(self, timeout: float = 30.0) -> ExplorerProcess:
        def is_up() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"explorer exited with {self.process.returncode}:\n{self.read_log()}")
            try:
                return http_get(self.url, "/api/devnet")[0] == 200
            except OSError:
                return False

        wait_until(is_up, timeout, "explorer HTTP")
        return self

    def get(self, path: str, method: str = "GET") -> tuple[int, object]:
        status, body, _ = http_get(self.url, path, method)
        return status, body

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


@dataclass
class RegtestChain:
    """A regtest node with a small history: blocks paid to `coldkey`, hotkeys registered on job 0 (the
    first one staked), and a transfer to `recipient`."""

    node: TestNode
    coldkey: SigningKey
    hotkeys: list[SigningKey]
    recipient: SigningKey
    transfer_txid: str = ""
    activity_block: str = ""  # hash of the block holding the registrations, the stake and the transfer
    roles: list[tuple[str, str | None]] = field(default_factory=list)

    def address(self, key: SigningKey) -> str:
        return encode_address(self.node.params.hrp, key.pubkey)

    def submit(self, tx) -> str:
        txid = self.node.sendrawtransaction(tx.serialize().hex())
        assert txid == hash_to_display(tx.txid)
        return txid

    def next_nonce(self, key: SigningKey) -> int:
        return self.node.getaccount(self.address(key))["pending_nonce"]


def build_regtest_chain(node: TestNode, n_hotkeys: int = 3) -> RegtestChain:
    chain = RegtestChain(
        node, SigningKey.generate(), [SigningKey.generate() for _ in range(n_hotkeys)], SigningKey.generate()
    )
    magic = node.params.magic
    node.generate(4, chain.address(chain.coldkey))
    nonce = chain.next_nonce(chain.coldkey)
    for hotkey in chain.hotkeys:
        chain.submit(make_register(chain.coldkey, hotkey, magic, nonce, 0, COIN))
        nonce += 1
    chain.submit(make_stake(chain.coldkey, magic, nonce, chain.hotkeys[0].pubkey, 2 * COIN))
    chain.transfer_txid = chain.submit(
        make_transfer(chain.coldkey, magic, nonce + 1, chain.recipient.pubkey, 3 * COIN, 1_000)
    )
    chain.activity_block = node.generate(1, chain.address(chain.coldkey))[0]
    node.generate(2, chain.address(chain.recipient))
    return chain


def write_live_file(path: Path, chain: RegtestChain, roles: list[tuple[str, str | None]]) -> dict:
    """A devnet live file for the chain's hotkeys: two epochs, role and adversary kind per uid."""
    metagraph = chain.node.getmetagraph(0)
    epochs = []
    for epoch, loss in ((1, 3.0), (2, 2.6)):
        rows = []
        for u in metagraph["uids"]:
            role, adversary = roles[u["uid"]]
            emission = 0 if adversary else (u["uid"] + 1) * COIN
            rows.append(
                {
                    "uid": u["uid"],
                    "hotkey": u["hotkey"],
                    "address": u["address"],
                    "role": role,
                    "adversary": adversary,
                    "incentive": 0.0 if adversary else 0.5,
                    "dividends": 0.0,
                    "emission": emission,
                    "total_earned": emission * epoch,
                }
            )
        epochs.append(
            {"epoch": epoch, "height": 30 * epoch, "checkpoint": f"{epoch:064x}", "heldout_loss": loss, "uids": rows}
        )
    document = {"epochs": epochs, "initial_heldout_loss": 3.4}
    path.write_text(json.dumps(document))
    return document
