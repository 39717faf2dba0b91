"""PeerManager: the node's peer-to-peer network — listening, connecting, limits, bans, address gossip.

It owns the connections (`peer.Peer`), checks every handshake (network, genesis, protocol version,
self-connection), keeps connection limits (outbound ≤ max_outbound, inbound ≤ max_peers minus the
slots reserved for outbound), bans misbehaving hosts for 24 h (`DIR/banlist.json`), remembers
addresses heard of (`DIR/peers.json`) and answers getaddr/addr, and delegates chain sync and
relay to `sync.ChainSync` and work artifacts to `artifacts.ArtifactExchange`. It announces every
block the ledger connects (it hooks `ledger.listeners`) and transactions the node accepted
(`announce_transaction`). A once-a-second maintenance task restarts stalled sync work and, with
`auto_connect`, fills outbound slots from the address book. All public methods run on the event
loop; the ledger is only called through `run_blocking`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import OrderedDict
from pathlib import Path

from hashgrad.chain.genesis import build_genesis_block
from hashgrad.errors import ProtocolError
from hashgrad.p2p.addrman import AddrMan, compute_netgroup
from hashgrad.p2p.artifacts import ArtifactExchange
from hashgrad.p2p.banlist import BanList
from hashgrad.p2p.eviction import select_eviction
from hashgrad.p2p.messages import (
    MIN_PROTOCOL_VERSION,
    PROTOCOL_VERSION,
    SERVICE_ARTIFACTS,
    SERVICE_NETWORK,
    AddrMessage,
    GetAddrMessage,
    InvType,
    VersionMessage,
)
from hashgrad.p2p.misbehaviour import BAN_DURATION_S
from hashgrad.p2p.netaddr import format_address, is_ip_address, normalize_host
from hashgrad.p2p.peer import Peer, PeerConfig
from hashgrad.p2p.rounds import RoundExchange
from hashgrad.p2p.sync import BLOCK_DOWNLOAD_TIMEOUT_S, ChainSync
from hashgrad.p2p.wire import DEFAULT_MAX_ARTIFACT_SIZE, MAX_ADDR_ENTRIES, compute_message_limits

log = logging.getLogger("hashgrad.p2p")

DEFAULT_USER_AGENT = "/hashgrad:0.1.0/"
DEFAULT_MAX_OUTBOUND = 8
CONNECT_TIMEOUT_S = 10.0
TICK_S = 1.0
SAVE_EVERY_TICKS = 300
ADDR_RELAY_MAX = 10  # small addr messages (fresh self-announcements) are passed on
ADDR_RELAY_FANOUT = 2
RETRY_FAILED_AFTER_S = 60.0
STOP_TIMEOUT_S = 5.0
MAX_FAILED_HANDSHAKES = 8
DEFAULT_MAX_INBOUND_PER_GROUP = 4
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1"})  # the operator's own machine (devnets run all nodes there)
FAILED_HANDSHAKE_BAN_S = 60 * 60
MAX_TRACKED_FAILURES = 10_000
# closes before a handshake that do not show the peer misbehaving (ours, or a clean refusal)
NOT_THE_PEERS_FAULT = frozenset(
    {
        "peer-banned",
        "too-many-connections",
        "network-inactive",
        "network-disabled",
        "shutdown",
        "disconnect-requested",
        "wrong-network",
        "wrong-genesis",
        "obsolete-version",
        "self-connection",
        "duplicate-connection",
        "evicted",
    }
)


class PeerManager:
    protocol_version = PROTOCOL_VERSION

    def __init__(
        self,
        params,
        ledger,
        run_blocking,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        max_peers: int = 32,
        user_agent: str = DEFAULT_USER_AGENT,
        datadir: Path | None = None,
        max_outbound: int = DEFAULT_MAX_OUTBOUND,
        config: PeerConfig | None = None,
        artifact_provider=None,
        max_artifact_size: int = DEFAULT_MAX_ARTIFACT_SIZE,
        auto_connect: bool = False,
        block_timeout_s: float = BLOCK_DOWNLOAD_TIMEOUT_S,
        clock=time.time,
        max_inbound_per_group: int = DEFAULT_MAX_INBOUND_PER_GROUP,
    ):
        self.params = params
        self.ledger = ledger
        self.run_blocking = run_blocking
        self.host = host
        self.port = params.p2p_port if port is None else port
        self.max_peers = max_peers
        self.max_outbound = min(max_outbound, max_peers)
        self.max_inbound = max_peers - min(self.max_outbound, max_peers // 2)
        self.max_inbound_per_group = max_inbound_per_group
        self.user_agent = user_agent
        self.config = config or PeerConfig()
        self.auto_connect = auto_connect
        self.clock = clock
        self.limits = compute_message_limits(params, max_artifact_size)
        self.genesis_hash = build_genesis_block(params).hash
        datadir = Path(datadir) if datadir is not None else Path(ledger.chainstate.datadir)
        self.banlist = BanList(datadir / "banlist.json", clock)
        self.addrbook = AddrMan(datadir / "peers.json", clock)  # Core's new/tried buckets
        self.peers: dict[int, Peer] = {}
        self.sync = ChainSync(params, ledger, run_blocking, self.get_ready_peers, block_timeout_s=block_timeout_s)
        self.artifacts = ArtifactExchange(self.get_ready_peers, max_artifact_size, artifact_provider)
        # round announcements of training miners
        self.rounds = RoundExchange(self.get_ready_peers, params.jobs, lambda: self.ledger.chainstate.height)
        self.network_active = True
        self.closed_bytes_sent = self.closed_bytes_recv = 0
        self._next_peer_id = 1
        self._nonces: set[int] = set()
        self._answered_getaddr: set[int] = set()
        self._failed_until: dict[tuple[str, int], float] = {}
        self._failed_handshakes: OrderedDict[str, int] = OrderedDict()  # remote ip -> failures in a row
        self._tasks: set[asyncio.Task] = set()
        self._server: asyncio.AbstractServer | None = None
        self._maintenance: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load bans and addresses, listen, hook the ledger and start the maintenance task."""
        self._loop = asyncio.get_running_loop()
        self.banlist.load()
        self.addrbook.load()
        self._server = await asyncio.start_server(self._on_inbound, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.ledger.listeners.append(self._on_ledger_result)
        self._maintenance = asyncio.create_task(self._maintain(), name="p2p-maintenance")
        log.info("p2p listening on %s", format_address(self.host, self.port))

    async def stop(self) -> None:
        """Close every connection and the listener; save peers.json and banlist.json."""
        if self._on_ledger_result in self.ledger.listeners:
            self.ledger.listeners.remove(self._on_ledger_result)
        if self._server is not None:
            self._server.close()
        self.sync.cancel_tasks()
        if self._maintenance is not None:
            self._maintenance.cancel()
            await asyncio.gather(self._maintenance, return_exceptions=True)
        for peer in list(self.peers.values()):
            peer.close("shutdown")
        tasks = set(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self.addrbook.save()
        self.banlist.save()

    def set_network_active(self, active: bool) -> None:
        """Off: drop every peer and refuse connections; on: accept and connect again."""
        self.network_active = bool(active)
        if not self.network_active:
            for peer in list(self.peers.values()):
                peer.close("network-disabled")

    # ------------------------------------------------------------ connections
    async def connect(self, host: str, port: int) -> int:
        """Open an outbound connection and wait for its handshake; returns the peer id.

        Raises ProtocolError (`network-inactive`, `peer-banned`, `too-many-connections`,
        `already-connected`, `connect-failed`) or OSError / TimeoutError from the socket.
        """
        host = normalize_host(host)
        self._check_outbound(host, port)
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT_S)
        peer = self._start_peer(reader, writer, inbound=False, host=host, port=port)
        if self.banlist.is_banned(peer.remote_ip):
            peer.close("peer-banned")
        waiters = [asyncio.ensure_future(peer.ready.wait()), asyncio.ensure_future(peer.closed.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if not peer.is_ready:
            raise ProtocolError("connect-failed", f"{format_address(host, port)}: {peer.close_reason}")
        return peer.id

    def _check_outbound(self, host: str, port: int) -> None:
        if not self.network_active:
            raise ProtocolError("network-inactive", "networking is disabled")
        if self.banlist.is_banned(host):
            raise ProtocolError("peer-banned", host)
        if self.count_outbound() >= self.max_outbound or len(self.peers) >= self.max_peers:
            raise ProtocolError("too-many-connections", f"{self.count_outbound()} outbound, {len(self.peers)} total")
        wanted = format_address(host, port)
        if any(not p.inbound and p.addr == wanted for p in self.peers.values()):
            raise ProtocolError("already-connected", wanted)

    async def _on_inbound(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        host, port = normalize_host(peername[0]), peername[1]
        refusal = self._get_inbound_refusal(host)
        if refusal is not None:
            log.info("refusing inbound connection from %s: %s", format_address(host, port), refusal)
            writer.close()
            return
        self._start_peer(reader, writer, inbound=True, host=host, port=port)

    def _get_inbound_refusal(self, host: str) -> str | None:
        """Why an inbound connection from `host` is refused, or None. A full set of inbound slots
        makes room by evicting one peer (`select_eviction`), as Core does; one subnet (IPv4 /16,
        IPv6 /32) may hold at most max_inbound_per_group inbound slots (the local host excepted)."""
        if not self.network_active:
            return "network-inactive"
        if self.banlist.is_banned(host):
            return "peer-banned"
        group = compute_netgroup(host)
        if (
            host not in LOCAL_HOSTS
            and sum(
                1
                for p in self.peers.values()
                if p.inbound and p.close_reason is None and compute_netgroup(p.remote_ip) == group
            )
            >= self.max_inbound_per_group
        ):
            return "too-many-from-subnet"
        inbound = sum(1 for p in self.peers.values() if p.inbound and p.close_reason is None)
        if inbound >= self.max_inbound or len(self.peers) >= self.max_peers:
            victim = select_eviction([p for p in self.peers.values() if p.inbound and p.close_reason is None])
            if victim is None:
                return "too-many-connections"
            victim.close("evicted")
        return None

    def _start_peer(self, reader, writer, *, inbound: bool, host: str, port: int) -> Peer:
        peer = Peer(
            self._next_peer_id,
            reader,
            writer,
            owner=self,
            inbound=inbound,
            host=host,
            port=port,
            magic=self.params.magic,
            limits=self.limits,
            config=self.config,
        )
        self._next_peer_id += 1
        self.peers[peer.id] = peer
        task = asyncio.create_task(peer.run(), name=f"peer-{peer.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return peer

    async def disconnect(self, target) -> bool:
        """Drop a peer by id or by "host:port"; False when no such peer is connected."""
        peer = self._find_peer(target)
        if peer is None:
            return False
        peer.close("disconnect-requested")
        await peer.closed.wait()
        return True

    def _find_peer(self, target) -> Peer | None:
        if isinstance(target, int):
            return self.peers.get(target)
        text = str(target)
        return next((p for p in self.peers.values() if p.addr == text), None)

    # ------------------------------------------------------------ the Peer's owner interface
    def make_version(self, peer: Peer) -> VersionMessage:
        nonce = int.from_bytes(os.urandom(8), "little")
        self._nonces.add(nonce)
        services = SERVICE_NETWORK | (SERVICE_ARTIFACTS if self.artifacts.provider is not None else 0)
        return VersionMessage(
            PROTOCOL_VERSION,
            services,
            int(self.clock()),
            self.params.magic,
            self.genesis_hash,
            self.ledger.chainstate.height,
            nonce,
            self.user_agent,
            self.port,
        )

    def check_version(self, peer: Peer, message: VersionMessage) -> None:
        if message.magic != self.params.magic:
            raise ProtocolError("wrong-network", f"peer is on network {message.magic.hex()}")
        if message.genesis_hash != self.genesis_hash:
            raise ProtocolError("wrong-genesis", f"peer's genesis is {message.genesis_hash[::-1].hex()}")
        if message.version < MIN_PROTOCOL_VERSION:
            raise ProtocolError("obsolete-version", f"protocol version {message.version}")
        if message.nonce in self._nonces:
            raise ProtocolError("self-connection", "connected to ourselves")
        if peer.inbound and message.listen_port:
            self.addrbook.add(peer.remote_ip, message.listen_port, message.services, source=peer.remote_ip)

    async def on_peer_ready(self, peer: Peer) -> None:
        self._failed_handshakes.pop(peer.remote_ip, None)
        if not peer.inbound:
            if is_ip_address(peer.host):
                self.addrbook.mark_good(peer.host, peer.port, peer.version.services)
            peer.send(GetAddrMessage())
        await self.sync.on_peer_ready(peer)
        self.rounds.on_peer_ready(peer)

    def get_handler(self, command: str):
        for owner in (self, self.sync, self.artifacts, self.rounds):
            handler = getattr(owner, "on_" + command, None)
            if handler is not None:
                return handler
        return None

    def on_peer_misbehaving(self, peer: Peer, reason: str) -> None:
        log.warning("banning %s for %d s: %s", peer.remote_ip, BAN_DURATION_S, reason)
        self.banlist.ban(peer.remote_ip, BAN_DURATION_S, reason)

    def on_peer_closed(self, peer: Peer) -> None:
        if self.peers.pop(peer.id, None) is not None:  # getnettotals counts closed peers' traffic too
            self.closed_bytes_sent += peer.bytes_sent
            self.closed_bytes_recv += peer.bytes_recv
        self._count_failed_handshake(peer)
        self._answered_getaddr.discard(peer.id)
        if peer.local_version is not None:
            self._nonces.discard(peer.local_version.nonce)
        self.sync.on_peer_closed(peer)
        self.artifacts.on_peer_closed(peer)
        log.info("peer %d (%s): closed (%s)", peer.id, peer.addr, peer.close_reason)

    def _count_failed_handshake(self, peer: Peer) -> None:
        """An inbound connection that ended before its handshake completed, for a reason the peer
        caused, counts against its address; MAX_FAILED_HANDSHAKES of them in a row earn a ban (a
        connect-and-stall flood costs it its address, a single slow start does not)."""
        if not peer.inbound or peer.ready.is_set() or peer.close_reason in NOT_THE_PEERS_FAULT:
            return
        if peer.remote_ip in LOCAL_HOSTS:
            return  # a devnet's nodes all share 127.0.0.1: a few slow starts there must not partition it
        failures = self._failed_handshakes.pop(peer.remote_ip, 0) + 1
        self._failed_handshakes[peer.remote_ip] = failures
        while len(self._failed_handshakes) > MAX_TRACKED_FAILURES:
            self._failed_handshakes.popitem(last=False)
        if failures >= MAX_FAILED_HANDSHAKES and not self.banlist.is_banned(peer.remote_ip):
            log.warning("banning %s: %d failed handshakes", peer.remote_ip, failures)
            self.banlist.ban(peer.remote_ip, FAILED_HANDSHAKE_BAN_S, "failed-handshakes")
            del self._failed_handshakes[peer.remote_ip]

    # ------------------------------------------------------------ address gossip and rejects
    async def on_getaddr(self, peer: Peer, message) -> None:
        if peer.id in self._answered_getaddr:
            return  # once per connection, as Bitcoin Core
        self._answered_getaddr.add(peer.id)
        entries = [
            e
            for e in self.addrbook.get_addr_entries(MAX_ADDR_ENTRIES)
            if (e.host, e.port) != (peer.remote_ip, peer.port)
        ]
        if entries:
            peer.send(AddrMessage(tuple(entries)))

    async def on_addr(self, peer: Peer, message) -> None:
        fresh = []
        for entry in message.entries:
            is_new = (entry.host, entry.port) not in self.addrbook
            if self.addrbook.add(entry.host, entry.port, entry.services, entry.time, source=peer.remote_ip) and is_new:
                fresh.append(entry)
        if fresh and len(message.entries) <= ADDR_RELAY_MAX:
            others = [p for p in self.get_ready_peers() if p.id != peer.id]
            for other in random.sample(others, min(ADDR_RELAY_FANOUT, len(others))):
                other.send(AddrMessage(tuple(fresh)))

    async def on_reject(self, peer: Peer, message) -> None:
        log.info(
            "peer %d (%s) rejected our %s %s: %s",
            peer.id,
            peer.addr,
            message.message,
            message.hash[::-1].hex(),
            message.reason,
        )

    async def on_notfound(self, peer: Peer, message) -> None:
        self.sync.on_notfound(peer, message)
        self.artifacts.on_notfound(peer, message)

    # ------------------------------------------------------------ announcing
    def _on_ledger_result(self, result) -> None:
        """A ledger listener: runs in whichever thread moved the tip, so hop onto the event loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self.sync.on_tip_changed, result)
        except RuntimeError:  # the loop is shutting down
            pass

    def announce_block(self, block) -> None:
        """Announce a block by inv to every peer not known to have it."""
        self.sync.relay_inventory(InvType.BLOCK, [block.hash])

    def announce_transaction(self, tx) -> None:
        """Announce a transaction the node accepted (RPC) by inv to every peer not known to have it."""
        self.sync.relay_inventory(InvType.TX, [tx.txid])
        self.sync.on_transaction_accepted(tx)

    # ------------------------------------------------------------ work artifacts
    @property
    def artifact_provider(self):
        return self.artifacts.provider

    @artifact_provider.setter
    def artifact_provider(self, provider) -> None:
        self.artifacts.provider = provider

    async def fetch_artifact(self, artifact_id: bytes, max_size: int) -> bytes:
        """The artifact with this SHA-256 from some peer, checked; ProtocolError `artifact-not-found`."""
        return await self.artifacts.fetch(artifact_id, max_size)

    # ------------------------------------------------------------ bans
    def is_banned(self, host: str) -> bool:
        return self.banlist.is_banned(host)

    def list_banned(self) -> list[dict]:
        return self.banlist.list_banned()

    def ban(self, host: str, duration_s: int = BAN_DURATION_S, reason: str = "manually-added") -> None:
        """Ban a host (RPC setban) and drop its connections."""
        self.banlist.ban(host, duration_s, reason)
        for peer in list(self.peers.values()):
            if self.banlist.is_banned(peer.remote_ip):
                peer.close("peer-banned")

    def unban(self, host: str) -> bool:
        return self.banlist.unban(host)

    def clear_banned(self) -> None:
        self.banlist.clear()

    # ------------------------------------------------------------ views
    def get_ready_peers(self) -> list[Peer]:
        return [p for p in self.peers.values() if p.is_ready]

    def connection_count(self) -> int:
        return len(self.peers)

    def count_outbound(self) -> int:
        return sum(1 for p in self.peers.values() if not p.inbound)

    def get_net_totals(self) -> tuple[int, int]:
        """(bytes received, bytes sent) since start, over every peer, closed ones included."""
        peers = list(self.peers.values())
        return (
            self.closed_bytes_recv + sum(p.bytes_recv for p in peers),
            self.closed_bytes_sent + sum(p.bytes_sent for p in peers),
        )

    def get_peer_info(self) -> list[dict]:
        """One dict per connection, with Bitcoin Core's getpeerinfo keys."""
        return [self._describe(peer) for peer in sorted(self.peers.values(), key=lambda p: p.id)]

    def _describe(self, peer: Peer) -> dict:
        version = peer.version
        return {
            "id": peer.id,
            "addr": peer.addr,
            "inbound": peer.inbound,
            "version": version.version if version else 0,
            "subver": version.user_agent if version else "",
            "services": f"{version.services:016x}" if version else "0" * 16,
            "startingheight": version.best_height if version else -1,
            "synced_height": peer.sync.best_known_height if peer.sync else -1,
            "pingtime": peer.ping_time,
            "minping": peer.min_ping,
            "bytessent": peer.bytes_sent,
            "bytesrecv": peer.bytes_recv,
            "lastsend": peer.last_send,
            "lastrecv": peer.last_recv,
            "banscore": peer.ban_score,
            "conntime": peer.conn_time,
            "handshaked": peer.is_ready,
        }

    # ------------------------------------------------------------ maintenance
    async def _maintain(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(TICK_S)
            ticks += 1
            try:
                if self.network_active:
                    await self.sync.tick()
                    if self.auto_connect:
                        await self._fill_outbound()
                if ticks % SAVE_EVERY_TICKS == 0:
                    self.addrbook.save()
            except Exception:  # a bug must not stop the loop that keeps sync alive
                log.exception("p2p maintenance failed")

    async def _fill_outbound(self) -> None:
        """auto_connect: try one address-book entry per tick while outbound slots are free."""
        if self.count_outbound() >= self.max_outbound:
            return
        now = time.monotonic()
        connected = {(p.host, p.port) for p in self.peers.values() if not p.inbound}
        connected |= {(p.remote_ip, p.version.listen_port) for p in self.get_ready_peers() if p.version}
        exclude = connected | {k for k, until in self._failed_until.items() if until > now}
        exclude |= {(normalize_host(self.host), self.port), ("127.0.0.1", self.port)}
        for candidate in self.addrbook.select_candidates(exclude, 1):
            if self.banlist.is_banned(candidate.host):
                continue
            try:
                await self.connect(candidate.host, candidate.port)
            except (TimeoutError, ProtocolError, OSError) as exc:
                log.debug("auto-connect to %s failed: %s", format_address(candidate.host, candidate.port), exc)
                self._failed_until[candidate.key] = now + RETRY_FAILED_AFTER_S
