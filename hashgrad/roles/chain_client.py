"""What a miner or validator process needs from its node, over JSON-RPC: the job's clock, epochs,
the metagraph, artifacts, and signed transactions with nonces managed locally.

Blocking calls (the roles are plain loops, not asyncio). Every value that comes back from the node is
validated before use: hex lengths, base64 artifacts re-hashed by the caller's store checks.
"""
from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import ChainParams
from hashgrad.chain.tx import Transaction
from hashgrad.errors import HashgradError, RpcError, WorkError
from hashgrad.node.rpc_client import RpcClient


@dataclass(frozen=True)
class RoleKeys:
    """A participant's coldkey (funds, stake, registration fees) and hotkey (its identity on the job)."""

    coldkey: SigningKey
    hotkey: SigningKey

    @classmethod
    def load(cls, path: Path) -> "RoleKeys":
        try:
            raw = json.loads(Path(path).read_text()[:4096])
            return cls(SigningKey(bytes.fromhex(raw["coldkey"])), SigningKey(bytes.fromhex(raw["hotkey"])))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HashgradError("bad-keyfile", f"{path}: {exc}") from None

    def save(self, path: Path) -> None:
        import os

        data = json.dumps({"coldkey": self.coldkey.secret.hex(), "hotkey": self.hotkey.secret.hex()})
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(data)


class ChainClient:
    def __init__(self, rpc: RpcClient, params: ChainParams):
        self.rpc = rpc
        self.params = params

    # ------------------------------------------------------------ reads
    def get_job(self, job_id: int) -> dict:
        return self.rpc.call("getjob", job_id)

    def get_epoch(self, job_id: int, epoch: int) -> dict:
        return self.rpc.call("getepoch", job_id, epoch)

    def get_metagraph(self, job_id: int) -> dict:
        return self.rpc.call("getmetagraph", job_id)

    def get_account(self, address: str) -> dict:
        return self.rpc.call("getaccount", address)

    def get_block_hash(self, height: int) -> bytes:
        return bytes.fromhex(self.rpc.call("getblockhash", height))[::-1]

    # ------------------------------------------------------------ artifacts
    def put_artifact(self, data: bytes) -> bytes:
        result = self.rpc.call("putartifact", base64.b64encode(data).decode())
        artifact_id = hashlib.sha256(data).digest()
        if result.get("artifact_id") != artifact_id.hex():
            raise WorkError("bad-artifact-hash", "the node stored the artifact under another id")
        return artifact_id

    def get_artifact(self, artifact_id: bytes) -> bytes:
        result = self.rpc.call("getartifact", artifact_id.hex())  # natural byte order, as sha256sum prints
        data = base64.b64decode(result["data"], validate=True)
        if hashlib.sha256(data).digest() != artifact_id:
            raise WorkError("bad-artifact-hash", f"bytes for {artifact_id.hex()} do not hash to it")
        return data

    # ------------------------------------------------------------ transactions
    def get_next_nonce(self, pubkey: bytes) -> int:
        from hashgrad.chain.bech32 import encode_address

        return int(self.get_account(encode_address(self.params.hrp, pubkey))["pending_nonce"])

    def submit(self, tx: Transaction) -> str:
        return self.rpc.call("sendrawtransaction", tx.serialize().hex())

    def submit_built(self, build, key: SigningKey, *args, **kwargs) -> str:
        """Build a transaction with the key's next nonce (from the node's mempool view) and submit it."""
        return self.submit(build(key, self.params.magic, self.get_next_nonce(key.pubkey), *args, **kwargs))


def wait_until(predicate, timeout: float, interval: float = 0.25, stop=None) -> bool:
    """Poll predicate() until true, the timeout passes, or stop() is true; RPC hiccups count as false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stop is not None and stop():
            return False
        try:
            if predicate():
                return True
        except RpcError as exc:
            if exc.reason == "node-unreachable":
                pass
            else:
                raise
        time.sleep(interval)
    return False
