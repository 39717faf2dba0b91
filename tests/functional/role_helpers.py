"""Helpers of the role tests: role processes (`hashgrad miner`, `validator`, under torchrun too) against
a regtest node, funded by transfers, with the test playing the block maker: a block is mined when the
roles' transactions wait, so the roles' own pace decides how long each window of an epoch stays open."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from functional.framework import REPO_ROOT, TestNode, wait_until
from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.tx import make_transfer
from hashgrad.work.hardware import compute_kernel_env

COIN = 10**8
FEE = 1_000
ROLE_TIMEOUT_S = 90  # one window waits at most this long for the roles' transactions


class Role:
    """A role process (its own process group, output in a log file); `stop_all` leaves nothing behind."""

    def __init__(self, name: str, command: list[str], log_path: Path, kernel: str | None = None):
        """`kernel`: the process's ATEN_CPU_CAPABILITY (default: this process's own)."""
        self.name, self.log_path = name, log_path
        env = compute_kernel_env(kernel) | {"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.read_log()[-4000:]}")

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)


def stop_all(roles: list[Role]) -> None:
    """SIGTERM every role at once, wait, then SIGKILL the process group of any still alive."""
    for role in roles:
        role.signal(signal.SIGTERM)
    for role in roles:
        try:
            role.process.wait(20)
        except subprocess.TimeoutExpired:
            role.signal(signal.SIGKILL)
            role.process.wait(10)


def role_command(node: TestNode, role: str, keyfile: Path, manifest: Path, *extra: str) -> list[str]:
    """The arguments of `hashgrad ROLE` attached to `node` (regtest)."""
    return [
        role,
        "--network",
        "regtest",
        "--datadir",
        str(node.datadir),
        "--rpcport",
        str(node.rpc_port),
        "--keyfile",
        str(keyfile),
        "--dataset",
        str(manifest),
        *extra,
    ]


def fund(node: TestNode, faucet: SigningKey, amounts: list[tuple[bytes, int]]) -> None:
    """Transfers from the faucet (it holds mined coins) to each (pubkey, amount), mined in one block."""
    address = encode_address(node.params.hrp, faucet.pubkey)
    nonce = node.getaccount(address)["pending_nonce"]
    for i, (recipient, value) in enumerate(amounts):
        node.sendrawtransaction(
            make_transfer(faucet, node.params.magic, nonce + i, recipient, value, FEE).serialize().hex()
        )
    node.generate(1)


class BlockMaker:
    """Mines a block when transactions wait, until the chain shows what a window waits for."""

    def __init__(self, node: TestNode, roles: list[Role]):
        self.node, self.client, self.roles = node, node.connect(), roles

    def mine_until(self, predicate, what: str) -> None:
        def step() -> bool:
            for role in self.roles:
                role.check_alive()
            if predicate():
                return True
            if self.node.getrawmempool():
                self.node.generate(1)
            return False

        wait_until(step, ROLE_TIMEOUT_S, what)

    def advance_to_offset(self, offset: int) -> None:
        """Mine (including what waits) until the next block has this offset in its epoch."""
        job = self.client.get_job(0)
        missing = (offset - job.next_block_offset) % job.tempo
        if missing:
            self.node.generate(missing)
