"""One connection to another node: handshake, a task group of reader/writer/ping loops, accounting.

    run()  ──TaskGroup──  writer loop (frames from a bounded queue; byte counters)
                          close watcher (ends the group when close() is called, after a short flush)
                          serve: handshake (version, then verack, under a timeout)
                                 → owner.on_peer_ready → ping loop + reader loop
                                   (decoded messages go to the owner's `on_<command>` handlers)

The owner (the PeerManager) supplies: make_version(peer), check_version(peer, msg) (raises
ProtocolError to refuse), on_peer_ready(peer), get_handler(command), on_peer_misbehaving(peer,
reason) and on_peer_closed(peer). Misbehaviour points come from `misbehaviour.py`; at 100 the
owner bans the host and the connection closes. Framing errors always close the connection (the
stream can no longer be trusted); handler errors only add points.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass

from hashgrad.errors import ProtocolError
from hashgrad.p2p.messages import PingMessage, PongMessage, VerackMessage, VersionMessage, decode_message
from hashgrad.p2p.misbehaviour import BAN_THRESHOLD, compute_protocol_score
from hashgrad.p2p.netaddr import format_address, normalize_host
from hashgrad.p2p.wire import FRAME_HEADER_SIZE, MessageLimits, encode_frame, read_frame

log = logging.getLogger("hashgrad.p2p")

# Framing failures after which the byte stream cannot be resynchronised: always disconnect.
FATAL_REASONS = frozenset(
    {"bad-magic", "bad-command", "oversized-message", "bad-checksum", "bad-payload", "connection-closed"}
)
MAX_KNOWN_INVENTORY = 50_000
PRE_HANDSHAKE_FRAME_CAP = 1024  # a version message is at most ~350 bytes


@dataclass(frozen=True)
class PeerConfig:
    handshake_timeout_s: float = 10.0
    ping_interval_s: float = 30.0
    ping_timeout_s: float = 20.0
    max_send_buffer: int = 96 << 20  # queued bytes beyond this: the peer reads too slowly, drop it
    close_flush_s: float = 1.0  # how long a closing connection may spend sending what is queued


def sanitize_text(text: str, limit: int = 80) -> str:
    """A peer-chosen string made safe to log: printable ASCII only, others as '?', cut at `limit`
    (a raw user agent could forge log lines with newlines or terminal escapes)."""
    return "".join(c if " " <= c <= "~" else "?" for c in text[:limit])


class KnownInventory:
    """A bounded set of hashes a peer is known to have (so we do not announce them back)."""

    def __init__(self, limit: int = MAX_KNOWN_INVENTORY):
        self.limit = limit
        self.items: OrderedDict[bytes, None] = OrderedDict()

    def add(self, item: bytes) -> None:
        self.items[item] = None
        self.items.move_to_end(item)
        if len(self.items) > self.limit:
            self.items.popitem(last=False)

    def __contains__(self, item: bytes) -> bool:
        return item in self.items


class _Closed(Exception):
    """Raised inside the peer's task group to end it once close() was called."""


class Peer:
    def __init__(
        self,
        peer_id: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        owner,
        inbound: bool,
        host: str,
        port: int,
        magic: bytes,
        limits: MessageLimits,
        config: PeerConfig,
    ):
        self.id = peer_id
        self.reader, self.writer = reader, writer
        self.owner = owner
        self.inbound = inbound
        self.host, self.port = host, port
        peername = writer.get_extra_info("peername")
        self.remote_ip = normalize_host(peername[0]) if peername else normalize_host(host)  # what bans key on
        self.magic = magic
        self.limits = limits
        self.pre_handshake_limits = MessageLimits(limits.sizes, PRE_HANDSHAKE_FRAME_CAP)
        self.config = config
        self.local_version: VersionMessage | None = None
        self.version: VersionMessage | None = None
        self.conn_time = int(time.time())
        self.last_send = self.last_recv = 0
        self.bytes_sent = self.bytes_recv = 0
        self.ban_score = 0
        self.last_block_time = 0.0  # when it last gave us a block that connected (eviction protects those)
        self.ping_nonce: int | None = None
        self.ping_sent_at = 0.0
        self.ping_time: float | None = None
        self.min_ping: float | None = None
        self.known_inventory = KnownInventory()
        self.sync = None  # the sync layer's per-peer state, set when the handshake completes
        self.close_reason: str | None = None
        self.ready = asyncio.Event()  # set when the handshake completed
        self.closed = asyncio.Event()  # set when the connection is gone
        self._close_requested = asyncio.Event()
        self._flush_on_close = False
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._send_buffered = 0
        self._sent_progress = asyncio.Event()

    @property
    def addr(self) -> str:
        return format_address(self.host, self.port)

    @property
    def is_ready(self) -> bool:
        return self.ready.is_set() and self.close_reason is None

    # ------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Serve the connection until it closes; never raises for anything the remote side does."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._watch_close())
                group.create_task(self._write_loop())
                group.create_task(self._serve(group))
        except* _Closed:
            pass
        except* Exception as errors:  # a bug of ours, not the peer's doing: log it, drop the connection
            log.error("peer %d (%s): internal error", self.id, self.addr, exc_info=errors.exceptions[0])
            self.close_reason = self.close_reason or "internal-error"
        finally:
            self.close_reason = self.close_reason or "cancelled"
            self.writer.close()
            self.closed.set()
            self.owner.on_peer_closed(self)

    def close(self, reason: str, flush: bool = False) -> None:
        """Ask the connection to end (after sending what is queued, for up to a second, if flush)."""
        if self.close_reason is None:
            self.close_reason = reason
            self._flush_on_close = flush
            self._close_requested.set()
            log.info("peer %d (%s): disconnecting: %s", self.id, self.addr, reason)

    async def _watch_close(self) -> None:
        await self._close_requested.wait()
        if self._flush_on_close:
            try:
                await asyncio.wait_for(self.wait_for_send_buffer(0), self.config.close_flush_s)
            except TimeoutError:
                pass
        raise _Closed()

    async def _serve(self, group: asyncio.TaskGroup) -> None:
        try:
            await asyncio.wait_for(self._handshake(), self.config.handshake_timeout_s)
        except TimeoutError:
            self.close("handshake-timeout")
            return
        except ProtocolError as exc:
            self._punish(exc, fatal=True)
            return
        except (ConnectionError, OSError):
            self.close("connection-closed")
            return
        self.ready.set()
        log.info(
            "peer %d (%s): connected (%s, %s, height %d)",
            self.id,
            self.addr,
            "inbound" if self.inbound else "outbound",
            sanitize_text(self.version.user_agent),
            self.version.best_height,
        )
        group.create_task(self._ping_loop())
        try:
            await self.owner.on_peer_ready(self)
        except ProtocolError as exc:
            self._punish(exc)
        await self._read_loop()

    # ------------------------------------------------------------ handshake
    async def _handshake(self) -> None:
        self.local_version = self.owner.make_version(self)
        self.send(self.local_version)
        message = await self._read_message()
        if not isinstance(message, VersionMessage):
            raise ProtocolError("handshake-expected-version", f"got {message.command}")
        self.owner.check_version(self, message)
        self.version = message
        self.send(VerackMessage())
        message = await self._read_message()
        if not isinstance(message, VerackMessage):
            raise ProtocolError("handshake-expected-verack", f"got {message.command}")

    # ------------------------------------------------------------ reading
    async def _read_message(self):
        # before the handshake only version and verack are due: a frame over 1 KiB is refused unread
        limits = self.limits if self.ready.is_set() else self.pre_handshake_limits
        command, payload = await read_frame(self.reader, self.magic, limits)
        self.bytes_recv += FRAME_HEADER_SIZE + len(payload)
        self.last_recv = int(time.time())
        return decode_message(command, payload)

    async def _read_loop(self) -> None:
        while self.close_reason is None:
            try:
                message = await self._read_message()
            except ProtocolError as exc:
                self._punish(exc, fatal=exc.reason in FATAL_REASONS)
                continue
            except (ConnectionError, OSError):
                self.close("connection-closed")
                return
            await self._dispatch(message)

    async def _dispatch(self, message) -> None:
        if isinstance(message, PingMessage):
            self.send(PongMessage(message.nonce))
        elif isinstance(message, PongMessage):
            self._on_pong(message)
        elif isinstance(message, (VersionMessage, VerackMessage)):
            self._punish(ProtocolError("unexpected-version", "handshake messages after the handshake"))
        else:
            handler = self.owner.get_handler(message.command)
            if handler is None:
                return
            try:
                await handler(self, message)
            except ProtocolError as exc:
                self._punish(exc)

    def _punish(self, exc: ProtocolError, fatal: bool = False) -> None:
        if exc.reason != "connection-closed":
            log.info("peer %d (%s): %s", self.id, self.addr, exc)
        self.misbehave(compute_protocol_score(exc.reason), exc.reason)
        if fatal:
            self.close(exc.reason)

    def misbehave(self, points: int, reason: str) -> None:
        """Add misbehaviour points; at the threshold the owner bans the host and we disconnect."""
        if points <= 0 or self.ban_score >= BAN_THRESHOLD:
            return
        self.ban_score += points
        log.info("peer %d (%s): misbehaving +%d (%s), score %d", self.id, self.addr, points, reason, self.ban_score)
        if self.ban_score >= BAN_THRESHOLD:
            self.owner.on_peer_misbehaving(self, reason)
            self.close(f"banned: {reason}", flush=True)

    # ------------------------------------------------------------ writing
    def send(self, message) -> None:
        self.send_payload(message.command, message.serialize())

    def send_payload(self, command: str, payload: bytes) -> None:
        """Queue one frame; a peer whose unsent backlog passes max_send_buffer is dropped."""
        if self.close_reason is not None:
            return
        frame = encode_frame(self.magic, command, payload)
        if self._send_buffered + len(frame) > self.config.max_send_buffer:
            self.close("send-buffer-full")
            return
        self._send_buffered += len(frame)
        self._queue.put_nowait(frame)

    async def wait_for_send_buffer(self, limit: int) -> None:
        """Wait until at most `limit` bytes are queued (backpressure for serving many blocks)."""
        while self._send_buffered > limit:
            self._sent_progress.clear()
            await self._sent_progress.wait()

    async def _write_loop(self) -> None:
        while True:
            frame = await self._queue.get()
            try:
                self.writer.write(frame)
                await self.writer.drain()
            except (ConnectionError, OSError):
                self.close("connection-closed")
                return
            self._send_buffered -= len(frame)
            self.bytes_sent += len(frame)
            self.last_send = int(time.time())
            self._sent_progress.set()

    # ------------------------------------------------------------ liveness
    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.ping_interval_s)
            if self.ping_nonce is not None:
                if time.monotonic() - self.ping_sent_at > self.config.ping_timeout_s:
                    self.close("ping-timeout")
                    return
                continue
            self.ping_nonce = int.from_bytes(os.urandom(8), "little")
            self.ping_sent_at = time.monotonic()
            self.send(PingMessage(self.ping_nonce))

    def _on_pong(self, message: PongMessage) -> None:
        if message.nonce != self.ping_nonce:
            return
        self.ping_time = time.monotonic() - self.ping_sent_at
        self.min_ping = self.ping_time if self.min_ping is None else min(self.min_ping, self.ping_time)
        self.ping_nonce = None
