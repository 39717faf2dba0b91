"""The node process: ledger, peer manager, JSON-RPC server and block maker under one asyncio task group.

`Node.run()` starts the parts, keeps added peers connected and (regtest/devnet) makes blocks on a
timer until `request_stop()` (SIGTERM/SIGINT or the `stop` RPC), then stops them in order: RPC
(removing the cookie), peers, ledger. Every ledger call goes through `run_blocking`, a single worker
thread, so ledger access is serialized and grinding or SQLite commits never block the event loop.
A restart on the same datadir resumes from the chain database; a lock file keeps a second node off it.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from hashgrad.chain.params import ChainParams
from hashgrad.errors import HashgradError
from hashgrad.node.ledger import Ledger
from hashgrad.node.notify import ChainNotifier
from hashgrad.node.rpc import RpcServer
from hashgrad.node.rpc_auth import RpcCredentials, parse_rpcauth
from hashgrad.p2p.manager import PeerManager
from hashgrad.store.artifacts import LocalArtifactStore

RECONNECT_INTERVAL_S = 2.0
LOCK_FILE = ".lock"
USER_AGENT = "/hashgrad:0.1.0/"

log = logging.getLogger("hashgrad.node")


@dataclass
class NodeConfig:
    """What `hashgrad node` was asked for; ports default to the network's."""

    p2p_host: str = "0.0.0.0"
    p2p_port: int | None = None
    rpc_host: str = "127.0.0.1"
    rpc_port: int | None = None
    connect: list[tuple[str, int]] = field(default_factory=list)
    max_peers: int = 32
    mine_interval_s: float | None = None
    payout: bytes | None = None
    rest: bool = False
    auto_connect: bool = False  # fill outbound slots from gossiped addresses (off on regtest, as in tests)
    rpc_user: str | None = None
    rpc_password: str | None = None  # set: no cookie is written (as bitcoind)
    rpc_auth: list[str] = field(default_factory=list)  # USER:SALT$HASH lines from Core's rpcauth.py
    block_notify: str | None = None  # shell command run on every new tip, %s = its hash
    zmq_pub: dict[str, str] = field(default_factory=dict)  # topic (hashblock, rawtx...) -> tcp://address


class Node:
    def __init__(self, params: ChainParams, datadir: Path, config: NodeConfig | None = None):
        self.params = params
        self.datadir = Path(datadir)
        self.config = config or NodeConfig()
        self.p2p_port = self.config.p2p_port if self.config.p2p_port is not None else params.p2p_port
        self.rpc_port = self.config.rpc_port if self.config.rpc_port is not None else params.rpc_port
        self.user_agent = USER_AGENT
        self.ledger = None
        self.artifacts = None
        self.peers = None
        self.rpc = None
        self.notifier = None
        self.network_active = True
        self.added_nodes: set[tuple[str, int]] = set(self.config.connect)
        self.started_at = time.monotonic()
        self.log = log
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._connector_wake: asyncio.Event | None = None
        self._lock_handle = None
        self._stopped = False

    # ------------------------------------------------------------ threads and stopping
    async def run_blocking(self, fn, *args):
        """Run a synchronous (ledger) call on the node's single worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    def request_stop(self) -> None:
        """Ask the node to stop; safe from signal handlers, RPC handlers and other threads."""
        if self._loop is None or self._stop_event is None:
            return
        self._loop.call_soon_threadsafe(self._stop_event.set)

    def is_stopping(self) -> bool:
        return self._stop_event is not None and self._stop_event.is_set()

    async def sleep_unless_stopped(self, seconds: float, wake: asyncio.Event | None = None) -> bool:
        """Wait `seconds` (or until `wake` is set); True when the node is stopping."""
        waiters = [asyncio.ensure_future(self._stop_event.wait())]
        if wake is not None:
            waiters.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if wake is not None:
            wake.clear()
        return self.is_stopping()

    def provide_artifact(self, artifact_id: bytes) -> bytes | None:
        """The PeerManager's artifact provider (runs in a worker thread): stored bytes, checked, or None."""
        return self.artifacts.get(artifact_id) if self.artifacts.has(artifact_id) else None

    def wake_connector(self) -> None:
        if self._connector_wake is not None:
            self._connector_wake.set()

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:

        self._bind_loop()
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._lock_datadir()
        self.ledger = await self.run_blocking(Ledger, self.params, self.datadir)
        tip = self.ledger.chainstate.tip
        log.info("chain %s loaded: height %d tip %s", self.params.name, tip.height, tip.hash[::-1].hex())
        self.artifacts = LocalArtifactStore(self.datadir / "artifacts")
        self.peers = PeerManager(
            self.params,
            self.ledger,
            self.run_blocking,
            host=self.config.p2p_host,
            port=self.p2p_port,
            max_peers=self.config.max_peers,
            user_agent=self.user_agent,
            datadir=self.datadir,
            artifact_provider=self.provide_artifact,
            auto_connect=self.config.auto_connect,
        )
        await self._listen("P2P", self.peers.start())
        self.p2p_port = self.peers.port
        self.notifier = ChainNotifier(self)
        self.notifier.attach()
        credentials = RpcCredentials(
            user=self.config.rpc_user,
            password=self.config.rpc_password,
            rpcauth=[parse_rpcauth(line) for line in self.config.rpc_auth],
        )
        self.rpc = RpcServer(self, self.config.rpc_host, self.rpc_port, rest=self.config.rest, credentials=credentials)
        await self._listen("RPC", self.rpc.start())
        self.rpc_port = self.rpc.port
        self.started_at = time.monotonic()

    def _bind_loop(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._stop_event = asyncio.Event()
            self._connector_wake = asyncio.Event()

    async def _listen(self, what: str, starting) -> None:
        try:
            await starting
        except OSError as exc:
            raise HashgradError("cannot-listen", f"{what}: {exc}") from None

    async def run(self) -> None:
        """Start, serve until asked to stop, stop. One task group holds the node's background loops."""
        self._bind_loop()  # a stop requested while starting is kept
        try:
            await self.start()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._keep_added_nodes_connected())
                if self.config.mine_interval_s and self.config.payout is not None:
                    from hashgrad.node.blockmaker import BlockMaker

                    maker = BlockMaker(self, self.config.mine_interval_s, self.config.payout)
                    tasks.create_task(maker.run())
                await self._stop_event.wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._stop_event is not None:
            self._stop_event.set()
        log.info("stopping")
        for part in (self.notifier, self.rpc, self.peers):  # the notifier first: it wakes long polls
            if part is not None:
                try:
                    await part.stop()
                except Exception:  # keep stopping the other parts; the traceback goes to the log
                    log.exception("error while stopping %s", type(part).__name__)
        if self.ledger is not None:
            await self.run_blocking(self.ledger.close)
        self._executor.shutdown(wait=True)
        self._unlock_datadir()
        log.info("stopped")

    # ------------------------------------------------------------ background loops
    async def _keep_added_nodes_connected(self) -> None:
        """Bitcoin Core's ThreadOpenAddedConnections: reconnect `--connect`/`addnode add` peers."""
        while not self.is_stopping():
            if self.network_active:
                for host, port in sorted(self.added_nodes):
                    if self.is_stopping() or self._is_connected_to(host, port):
                        continue
                    try:
                        await self.peers.connect(host, port)
                    except (TimeoutError, HashgradError, OSError) as exc:
                        log.debug("connect to %s:%d failed: %s", host, port, exc)
            await self.sleep_unless_stopped(RECONNECT_INTERVAL_S, self._connector_wake)

    def _is_connected_to(self, host: str, port: int) -> bool:
        wanted = f"{host}:{port}"
        return any(info.get("addr") == wanted for info in self.peers.get_peer_info())

    # ------------------------------------------------------------ datadir lock
    def _lock_datadir(self) -> None:
        handle = open(self.datadir / LOCK_FILE, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise HashgradError("datadir-locked", f"{self.datadir} is in use by another hashgrad node") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle

    def _unlock_datadir(self) -> None:
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None
