"""Helpers of the P2P tests: in-process nodes (a real Ledger + PeerManager on 127.0.0.1), a raw
protocol client for misbehaving peers, block makers for invalid blocks, and `wait_until`.

Each `LocalNode` owns a real regtest Ledger in its own datadir and a one-thread executor, so its
ledger calls are serialized exactly as the daemon's `run_blocking` serializes them. Misbehaving
peers connect from other loopback addresses (127.0.0.2, ...), so banning them leaves the honest
nodes on 127.0.0.1 alone.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from hashgrad.chain.block import Block
from hashgrad.chain.genesis import build_genesis_block
from hashgrad.chain.hashes import hash_to_int
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.merkle import compute_merkle_root
from hashgrad.chain.params import get_network
from hashgrad.chain.pow import compute_target
from hashgrad.mining.grind import grind_block
from hashgrad.node.ledger import Ledger
from hashgrad.p2p.manager import PeerManager
from hashgrad.p2p.messages import (
    PROTOCOL_VERSION,
    PingMessage,
    PongMessage,
    VerackMessage,
    VersionMessage,
    decode_message,
    encode_message,
)
from hashgrad.p2p.peer import PeerConfig
from hashgrad.p2p.wire import compute_message_limits, read_frame

REGTEST = get_network("regtest")
FAST_CONFIG = PeerConfig(handshake_timeout_s=5.0, ping_interval_s=0.5, ping_timeout_s=5.0)


async def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> None:
    """Wait for predicate() to hold, failing the test with a clear message after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {getattr(predicate, '__name__', predicate)}")
        await asyncio.sleep(interval)


def run(coro, timeout: float = 30.0):
    """Run one async test scenario with an overall time limit."""

    async def limited():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(limited())


class LocalNode:
    """A regtest Ledger with its serialized executor and a PeerManager on an ephemeral port."""

    def __init__(self, datadir: Path, name: str, **manager_kwargs):
        self.name = name
        self.datadir = Path(datadir) / name
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ledger-{name}")
        self.ledger = Ledger(REGTEST, self.datadir)
        self.key = SigningKey(os.urandom(32))
        manager_kwargs.setdefault("config", FAST_CONFIG)
        self.manager = PeerManager(
            REGTEST,
            self.ledger,
            self.run_blocking,
            host="127.0.0.1",
            port=0,
            user_agent=f"/hashgrad-test:{name}/",
            **manager_kwargs,
        )

    async def run_blocking(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def start(self) -> LocalNode:
        await self.manager.start()
        return self

    async def stop(self) -> None:
        await self.manager.stop()
        await self.run_blocking(self.ledger.close)
        self.executor.shutdown(wait=True)

    @property
    def port(self) -> int:
        return self.manager.port

    @property
    def height(self) -> int:
        return self.ledger.chainstate.height

    @property
    def tip(self) -> bytes:
        return self.ledger.chainstate.tip.hash

    async def generate(self, count: int) -> list[bytes]:
        return await self.run_blocking(self.ledger.generate, count, self.key.pubkey)

    async def connect_to(self, other: LocalNode) -> int:
        return await self.manager.connect("127.0.0.1", other.port)


async def start_nodes(tmp_path: Path, count: int, **kwargs) -> list[LocalNode]:
    return [await LocalNode(tmp_path, f"n{i}", **kwargs).start() for i in range(count)]


async def stop_nodes(nodes) -> None:
    for node in nodes:
        await node.stop()


# ---------------------------------------------------------------- a raw protocol client
class RawPeer:
    """A hand-driven connection from another loopback address, for peers that misbehave on purpose."""

    def __init__(self, reader, writer, params=REGTEST):
        self.reader, self.writer = reader, writer
        self.params = params
        self.limits = compute_message_limits(params)

    @classmethod
    async def connect(cls, port: int, source_ip: str = "127.0.0.2") -> RawPeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source_ip, 0))
        return cls(reader, writer)

    def send(self, message) -> None:
        self.writer.write(encode_message(self.params.magic, message))

    def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)

    async def receive(self, timeout: float = 5.0):
        command, payload = await asyncio.wait_for(read_frame(self.reader, self.params.magic, self.limits), timeout)
        return decode_message(command, payload)

    async def receive_until(self, message_type, timeout: float = 5.0):
        """The next message of this type; others are skipped (pings are answered, as a live peer does)."""
        while True:
            message = await self.receive(timeout)
            if isinstance(message, message_type):
                return message
            if isinstance(message, PingMessage):
                self.send(PongMessage(message.nonce))

    async def handshake(self, best_height: int = 0) -> VersionMessage:
        genesis = build_genesis_block(self.params).hash
        self.send(
            VersionMessage(
                PROTOCOL_VERSION,
                1,
                int(time.time()),
                self.params.magic,
                genesis,
                best_height,
                int.from_bytes(os.urandom(8), "little"),
                "/raw-test/",
                0,
            )
        )
        theirs = await self.receive()
        assert isinstance(theirs, VersionMessage)
        self.send(VerackMessage())
        assert isinstance(await self.receive(), VerackMessage)
        return theirs

    async def wait_closed(self, timeout: float = 5.0) -> bool:
        """True once the other side closed the connection (reads hit end of stream)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), deadline - time.monotonic())
            except TimeoutError:
                return False
            except ConnectionError:
                return True
            if not data:
                return True
        return False

    def close(self) -> None:
        self.writer.close()


# ---------------------------------------------------------------- invalid blocks
def make_next_block(node: LocalNode, extra_txs=()) -> Block:
    """A block on the node's tip (not submitted), optionally carrying extra transactions, ground to its bits."""
    template = node.ledger.build_template()
    block = template.build_block(REGTEST, node.key.pubkey, os.urandom(8))
    txs = block.txs + tuple(extra_txs)
    root, _ = compute_merkle_root([tx.txid for tx in txs])
    block = Block(replace(block.header, merkle_root=root), txs)
    return grind_block(block, REGTEST.pow.pow_limit)


def make_high_hash_block(node: LocalNode) -> Block:
    """A block on the node's tip whose header hash misses its target (bad proof of work)."""
    block = make_next_block(node)
    target = compute_target(block.header.bits, REGTEST.pow.pow_limit)
    nonce = 0
    while hash_to_int(block.header.with_nonce(nonce).hash) <= target:
        nonce += 1
    return Block(block.header.with_nonce(nonce), block.txs)
