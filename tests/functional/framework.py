"""Functional test framework: real `hashgrad node` processes on loopback, driven over RPC and P2P.

Modelled on Bitcoin Core's `test_framework`: every node is a separate `python -m hashgrad node`
process with its own tmp datadir and free loopback ports; tests call RPC methods as attributes
(`node.getblockcount()`), wait on conditions with `wait_until` (never bare sleeps), and every process
a test starts is stopped or killed in teardown, whatever happened (see the `node_factory` fixture).
`RawPeer` speaks the P2P wire format from a plain socket, for tests that play a misbehaving peer.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.hashes import display_to_hash, hash_to_int
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import ChainParams, get_network
from hashgrad.chain.pow import compute_target
from hashgrad.errors import ProtocolError, RpcError
from hashgrad.mining.grind import grind_block
from hashgrad.mining.template import BlockTemplate
from hashgrad.node.client import NodeClient, connect_node
from hashgrad.node.rpc_client import RpcClient

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.05


def find_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = DEFAULT_TIMEOUT_S, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value (returned); AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_INTERVAL_S)


def new_address(params: ChainParams) -> tuple[SigningKey, str]:
    key = SigningKey.generate()
    return key, encode_address(params.hrp, key.pubkey)


class TestNode:
    """One node process. RPC methods are attributes: `node.getblockcount()`, `node.getblock(h, 2)`."""

    __test__ = False  # not a pytest test class

    def __init__(self, index: int, root: Path, network: str = "regtest"):
        self.index = index
        self.network = network
        self.params = get_network(network)
        self.datadir = Path(root) / f"node{index}"
        self.p2p_port = find_free_port()
        self.rpc_port = find_free_port()
        self.process: subprocess.Popen | None = None
        self.extra_args: list[str] = []
        self._rpc: RpcClient | None = None
        self._stderr = None

    @property
    def p2p_addr(self) -> str:
        return f"127.0.0.1:{self.p2p_port}"

    def __repr__(self) -> str:
        return f"TestNode({self.index}, p2p={self.p2p_port}, rpc={self.rpc_port})"

    # ------------------------------------------------------------ process
    def start(self, *extra_args: str, wait: bool = True) -> TestNode:
        if self.is_running():
            raise AssertionError(f"{self} is already running")
        self.extra_args = list(extra_args)
        self.datadir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "hashgrad",
            "node",
            "--network",
            self.network,
            "--datadir",
            str(self.datadir),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.p2p_port),
            "--rpcport",
            str(self.rpc_port),
            *extra_args,
        ]
        if os.environ.get("HASHGRAD_FUNCTIONAL_DEBUG"):  # debug-level node logs when chasing a failure
            command.append("--debug")
        self._stderr = open(self.datadir / "stderr.log", "ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=self._stderr, env=env)
        self._rpc = None
        if wait:
            self.wait_for_rpc()
        return self

    def wait_for_rpc(self, timeout: float = 30.0) -> None:
        """Until the node answers getblockcount with the credentials of its current cookie."""

        def is_up() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self} exited with {self.process.returncode} while starting:\n{self.read_log()}")
            try:
                rpc = self.connect(timeout=30).rpc
                rpc.call("getblockcount")
            except RpcError:
                return False
            self._rpc = rpc
            return True

        wait_until(is_up, timeout, f"{self} RPC")

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """Stop through the `stop` RPC; the exit code (0 for a clean stop)."""
        self.rpc.call("stop")
        return self.wait_for_exit(timeout)

    def terminate(self, timeout: float = 30.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.wait_for_exit(timeout)

    def kill(self) -> int:
        """SIGKILL: no chance to clean up (the crash tests' point)."""
        self.process.kill()
        return self.wait_for_exit(30.0)

    def wait_for_exit(self, timeout: float) -> int:
        code = self.process.wait(timeout)
        self._close_handles()
        return code

    def cleanup(self) -> None:
        """Teardown: ask politely, then kill; never leave the process behind."""
        if self.is_running():
            try:
                self.process.send_signal(signal.SIGTERM)
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._close_handles()

    def _close_handles(self) -> None:
        if self._rpc is not None:
            self._rpc.close()
            self._rpc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def read_log(self, last_lines: int = 40) -> str:
        path = self.datadir / "node.log"
        if not path.exists():
            path = self.datadir / "stderr.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-last_lines:])

    # ------------------------------------------------------------ RPC
    @property
    def rpc(self) -> RpcClient:
        """The raw transport, for any method by name (`node.getblockcount()`)."""
        if self._rpc is None:
            self._rpc = self.connect(timeout=120).rpc
        return self._rpc

    def connect(self, timeout: float = 120.0) -> NodeClient:
        """A typed client of this node, made as every hashgrad process makes one."""
        return connect_node(self.params.name, self.datadir, self.rpc_port, timeout=timeout)

    def __getattr__(self, method: str):
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *params: self.rpc.call(method, *params)

    def generate(self, count: int, address: str | None = None) -> list[str]:
        if address is None:
            address = new_address(self.params)[1]
        return self.rpc.call("generatetoaddress", count, address)

    def get_peer_addrs(self) -> set[str]:
        return {peer["addr"] for peer in self.rpc.call("getpeerinfo")}


# ---------------------------------------------------------------- topology and sync
def count_handshaked(node: TestNode) -> int:
    return sum(1 for peer in node.getpeerinfo() if peer.get("handshaked"))


def connect_nodes(a: TestNode, b: TestNode, timeout: float = 30.0) -> None:
    """a opens an outbound connection to b; returns once both ends have finished the handshake."""
    b_before = count_handshaked(b)
    a.addnode(b.p2p_addr, "onetry")
    wait_until(
        lambda: (
            any(p["addr"] == b.p2p_addr and p.get("handshaked") for p in a.getpeerinfo())
            and count_handshaked(b) > b_before
        ),
        timeout,
        f"connection {a} -> {b}",
    )


def disconnect_nodes(a: TestNode, b: TestNode, timeout: float = 30.0) -> None:
    """Drop a's outbound connection to b; returns once both ends have let go."""
    b_before = b.getconnectioncount()
    a.disconnectnode(b.p2p_addr)
    wait_until(
        lambda: b.p2p_addr not in a.get_peer_addrs() and b.getconnectioncount() < b_before,
        timeout,
        f"disconnection {a} -/- {b}",
    )


def sync_blocks(nodes: list[TestNode], timeout: float = DEFAULT_TIMEOUT_S) -> str:
    """Until every node has the same best block; returns its hash."""

    def same_tip():
        tips = {node.getbestblockhash() for node in nodes}
        return tips.pop() if len(tips) == 1 else None

    return wait_until(same_tip, timeout, f"same tip on {nodes}")


def sync_mempools(nodes: list[TestNode], timeout: float = DEFAULT_TIMEOUT_S) -> set[str]:
    def same_pool():
        pools = [frozenset(node.getrawmempool()) for node in nodes]
        return set(pools[0]) if all(p == pools[0] for p in pools) else None

    result = wait_until(
        lambda: (same_pool(),) if same_pool() is not None else None, timeout, f"same mempool on {nodes}"
    )
    return result[0]


def make_block(node, payout: bytes, extra_value: int = 0, valid_pow: bool = True):
    """A block on node's tip from its getblocktemplate, with `extra_value` added to the coinbase."""
    gbt = node.getblocktemplate()
    template = BlockTemplate(
        gbt["height"],
        display_to_hash(gbt["previousblockhash"]),
        int(gbt["bits"], 16),
        gbt["curtime"],
        gbt["coinbasevalue"] + extra_value,
        (),
    )
    block = template.build_block(node.params, payout, b"functional")
    if valid_pow:
        return grind_block(block, node.params.pow.pow_limit)
    target = compute_target(block.header.bits, node.params.pow.pow_limit)
    nonce = next(n for n in range(1 << 20) if hash_to_int(block.header.with_nonce(n).hash) > target)
    return replace(block, header=block.header.with_nonce(nonce))


# ---------------------------------------------------------------- a raw P2P peer
class RawPeer:
    """A P2P connection from the test itself: hand-made frames, for playing a misbehaving peer.

    It connects from another loopback address (127.0.0.2 by default), so the ban it earns falls on
    that address and leaves the honest nodes, all on 127.0.0.1, connected and connectable.
    """

    def __init__(self, node: TestNode, source_host: str = "127.0.0.2", timeout: float = 10.0):
        self.node = node
        self.params = node.params
        self.source_host = source_host
        self.sock = socket.create_connection(
            ("127.0.0.1", node.p2p_port), timeout=timeout, source_address=(source_host, 0)
        )
        self.buffer = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_message(self, message) -> None:
        from hashgrad.p2p.messages import encode_message

        self.send_raw(encode_message(self.params.magic, message))

    def send_frame(self, command: str, payload: bytes) -> None:
        from hashgrad.p2p.wire import encode_frame

        self.send_raw(encode_frame(self.params.magic, command, payload))

    def handshake(self, best_height: int = 0) -> None:
        """Send our version, answer theirs with verack, and read up to their verack."""
        from hashgrad.chain.genesis import build_genesis_block
        from hashgrad.p2p.messages import PROTOCOL_VERSION, SERVICE_NETWORK, VerackMessage, VersionMessage

        version = VersionMessage(
            PROTOCOL_VERSION,
            SERVICE_NETWORK,
            int(time.time()),
            self.params.magic,
            build_genesis_block(self.params).hash,
            best_height,
            int.from_bytes(os.urandom(8), "little"),
            "/functional-test:0.1/",
            0,
        )
        self.send_message(version)
        seen_version = seen_verack = False
        while not (seen_version and seen_verack):
            command, _ = self.read_frame()
            if command == "version":
                seen_version = True
                self.send_message(VerackMessage())
            elif command == "verack":
                seen_verack = True

    def read_frame(self) -> tuple[str, bytes]:
        from hashgrad.p2p.wire import FRAME_HEADER_SIZE, compute_message_limits, parse_frame_header

        header = parse_frame_header(
            self._read_exactly(FRAME_HEADER_SIZE), self.params.magic, compute_message_limits(self.params)
        )
        return header.command, self._read_exactly(header.length)

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ProtocolError("connection-closed", "the node closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_until_closed(self, timeout: float = 15.0) -> list[tuple[str, bytes]]:
        """Every frame the node sends until it closes the connection; AssertionError if it stays open."""
        self.sock.settimeout(timeout)
        frames = []
        try:
            while True:
                frames.append(self.read_frame())
        except ProtocolError as exc:
            if exc.reason != "connection-closed":
                raise
        except TimeoutError:
            raise AssertionError(f"the node kept the connection from {self.source_host} open") from None
        except OSError:  # reset by the node
            pass
        return frames

    def get_rejects(self, frames: list[tuple[str, bytes]]) -> list:
        from hashgrad.p2p.messages import RejectMessage

        return [RejectMessage.deserialize(payload) for command, payload in frames if command == "reject"]

    def close(self) -> None:
        self.sock.close()
