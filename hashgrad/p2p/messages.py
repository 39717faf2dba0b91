"""The P2P messages: small frozen dataclasses with an explicit, fixed-layout encoding each.

Integers are little-endian, lists and strings CompactSize-prefixed, hashes raw 32 bytes (internal
order), as in Bitcoin. Every `deserialize` reads exactly its payload and enforces the protocol's
counts (≤ 2000 headers, each with its AuxPoW proof when merge-mined, ≤ 50 000 inventory entries,
≤ 1000 addresses, ≤ 101 locator hashes, user agent ≤ 256 bytes); `decode_message` turns any
decoding failure into ProtocolError("bad-payload") and an unknown command into
ProtocolError("unknown-command"). Blocks and transactions travel as their canonical consensus bytes
(`parse_block`, `parse_transaction`).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from hashgrad.chain.auxpow import MAX_AUXPOW_SIZE, AuxPow, read_auxpow
from hashgrad.chain.block import Block, parse_block
from hashgrad.chain.encoding import ByteReader, encode_compact_size, encode_var_bytes
from hashgrad.chain.hashes import ZERO_HASH
from hashgrad.chain.header import BlockHeader
from hashgrad.chain.tx import Transaction, parse_transaction
from hashgrad.errors import DecodeError, HashgradError, ProtocolError
from hashgrad.p2p.rounds import RoundAnnouncement
from hashgrad.p2p.wire import (
    HEADER_BYTES,
    HEADERS_SEND_BUDGET,
    MAX_ADDR_ENTRIES,
    MAX_HEADERS_PAYLOAD,
    MAX_HEADERS_PER_MESSAGE,
    MAX_INV_ENTRIES,
    MAX_LOCATOR_HASHES,
    MAX_REJECT_MESSAGE,
    MAX_REJECT_REASON,
    MAX_USER_AGENT,
    encode_frame,
)

PROTOCOL_VERSION = 1
MIN_PROTOCOL_VERSION = 1
SERVICE_NETWORK = 1  # serves the full chain
SERVICE_ARTIFACTS = 2  # serves work artifacts (reserved for the work layer)


class InvType(IntEnum):
    TX = 1
    BLOCK = 2
    ARTIFACT = 3


def _read_hash(reader: ByteReader) -> bytes:
    return reader.read(32)


def _read_text(reader: ByteReader, limit: int, encoding: str) -> str:
    raw = reader.read_var_bytes(limit)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ProtocolError("bad-payload", f"text is not {encoding}") from exc


# ---------------------------------------------------------------- handshake and liveness
@dataclass(frozen=True)
class VersionMessage:
    command: ClassVar[str] = "version"
    _FIXED: ClassVar[struct.Struct] = struct.Struct("<IQq4s32siQ")

    version: int
    services: int
    timestamp: int
    magic: bytes  # the sender's network magic, echoed so a mismatch is explicit
    genesis_hash: bytes
    best_height: int
    nonce: int  # random per connection: seeing our own nonce means we connected to ourselves
    user_agent: str
    listen_port: int  # 0 when the sender does not accept connections

    def serialize(self) -> bytes:
        return (
            self._FIXED.pack(
                self.version, self.services, self.timestamp, self.magic, self.genesis_hash, self.best_height, self.nonce
            )
            + encode_var_bytes(self.user_agent.encode("utf-8"))
            + struct.pack("<H", self.listen_port)
        )

    @classmethod
    def deserialize(cls, data: bytes) -> VersionMessage:
        reader = ByteReader(data)
        fixed = cls._FIXED.unpack(reader.read(cls._FIXED.size))
        user_agent = _read_text(reader, MAX_USER_AGENT, "utf-8")
        listen_port = reader.read_u16()
        reader.check_done()
        return cls(*fixed, user_agent, listen_port)


@dataclass(frozen=True)
class _EmptyMessage:
    def serialize(self) -> bytes:
        return b""

    @classmethod
    def deserialize(cls, data: bytes):
        ByteReader(data).check_done()
        return cls()


@dataclass(frozen=True)
class VerackMessage(_EmptyMessage):
    command: ClassVar[str] = "verack"


@dataclass(frozen=True)
class GetAddrMessage(_EmptyMessage):
    command: ClassVar[str] = "getaddr"


@dataclass(frozen=True)
class _NonceMessage:
    nonce: int

    def serialize(self) -> bytes:
        return struct.pack("<Q", self.nonce)

    @classmethod
    def deserialize(cls, data: bytes):
        reader = ByteReader(data)
        nonce = reader.read_u64()
        reader.check_done()
        return cls(nonce)


@dataclass(frozen=True)
class PingMessage(_NonceMessage):
    command: ClassVar[str] = "ping"


@dataclass(frozen=True)
class PongMessage(_NonceMessage):
    command: ClassVar[str] = "pong"


# ---------------------------------------------------------------- addresses
@dataclass(frozen=True)
class AddrEntry:
    """A peer address: IPv4 travels IPv4-mapped in 16 bytes; the port is big-endian as in Bitcoin."""

    time: int
    services: int
    host: str
    port: int

    def serialize(self) -> bytes:
        ip = ipaddress.ip_address(self.host)
        packed = ip.packed if ip.version == 6 else b"\x00" * 10 + b"\xff\xff" + ip.packed
        return struct.pack("<IQ", self.time, self.services) + packed + struct.pack(">H", self.port)

    @classmethod
    def read(cls, reader: ByteReader) -> AddrEntry:
        time, services = struct.unpack("<IQ", reader.read(12))
        ip = ipaddress.IPv6Address(reader.read(16))
        port = struct.unpack(">H", reader.read(2))[0]
        host = str(ip.ipv4_mapped) if ip.ipv4_mapped is not None else str(ip)
        return cls(time, services, host, port)


@dataclass(frozen=True)
class AddrMessage:
    command: ClassVar[str] = "addr"

    entries: tuple[AddrEntry, ...]

    def serialize(self) -> bytes:
        return encode_compact_size(len(self.entries)) + b"".join(e.serialize() for e in self.entries)

    @classmethod
    def deserialize(cls, data: bytes) -> AddrMessage:
        reader = ByteReader(data)
        count = reader.read_compact_size(MAX_ADDR_ENTRIES)
        entries = tuple(AddrEntry.read(reader) for _ in range(count))
        reader.check_done()
        return cls(entries)


# ---------------------------------------------------------------- inventory
@dataclass(frozen=True)
class InvEntry:
    type: int  # an InvType; unknown types are parsed and then ignored by handlers
    hash: bytes

    def serialize(self) -> bytes:
        return struct.pack("<I", self.type) + self.hash


@dataclass(frozen=True)
class _InvListMessage:
    entries: tuple[InvEntry, ...]

    def serialize(self) -> bytes:
        return encode_compact_size(len(self.entries)) + b"".join(e.serialize() for e in self.entries)

    @classmethod
    def deserialize(cls, data: bytes):
        reader = ByteReader(data)
        count = reader.read_compact_size(MAX_INV_ENTRIES)
        entries = tuple(InvEntry(reader.read_u32(), _read_hash(reader)) for _ in range(count))
        reader.check_done()
        return cls(entries)

    def get_hashes(self, inv_type: InvType) -> list[bytes]:
        return [e.hash for e in self.entries if e.type == inv_type]


@dataclass(frozen=True)
class InvMessage(_InvListMessage):
    command: ClassVar[str] = "inv"


@dataclass(frozen=True)
class GetDataMessage(_InvListMessage):
    command: ClassVar[str] = "getdata"


@dataclass(frozen=True)
class NotFoundMessage(_InvListMessage):
    command: ClassVar[str] = "notfound"


# ---------------------------------------------------------------- headers-first sync
@dataclass(frozen=True)
class GetHeadersMessage:
    command: ClassVar[str] = "getheaders"

    locator: tuple[bytes, ...]  # our chain's hashes, newest first, thinning out exponentially
    stop_hash: bytes = ZERO_HASH  # zero: as many as fit in one headers message

    def serialize(self) -> bytes:
        return encode_compact_size(len(self.locator)) + b"".join(self.locator) + self.stop_hash

    @classmethod
    def deserialize(cls, data: bytes) -> GetHeadersMessage:
        reader = ByteReader(data)
        count = reader.read_compact_size(MAX_LOCATOR_HASHES)
        locator = tuple(_read_hash(reader) for _ in range(count))
        stop_hash = _read_hash(reader)
        reader.check_done()
        return cls(locator, stop_hash)


@dataclass(frozen=True)
class HeadersMessage:
    """Headers with their proofs, as Namecoin sends them: each entry is the 80-byte header followed,
    when its version carries the AuxPoW flag, by its CAuxPow (so a receiver checks every header's
    proof of work before storing or queueing it). A plain header's entry is its 80 bytes alone, so a
    message of plain headers is the same bytes as before. Bounded by count (2000), by each proof
    (MAX_AUXPOW_SIZE) and by the whole payload (MAX_HEADERS_PAYLOAD); `auxpows` lines up with
    `headers` (None for a plain header; left empty it means every header is plain)."""

    command: ClassVar[str] = "headers"

    headers: tuple[BlockHeader, ...]
    auxpows: tuple[AuxPow | None, ...] = ()

    def __post_init__(self) -> None:
        if not self.auxpows:
            object.__setattr__(self, "auxpows", (None,) * len(self.headers))
        elif len(self.auxpows) != len(self.headers):
            raise ValueError(f"{len(self.auxpows)} auxpows for {len(self.headers)} headers")

    def serialize(self) -> bytes:
        return encode_compact_size(len(self.headers)) + b"".join(
            encode_headers_entry(header, auxpow) for header, auxpow in zip(self.headers, self.auxpows)
        )

    @classmethod
    def deserialize(cls, data: bytes) -> HeadersMessage:
        if len(data) > MAX_HEADERS_PAYLOAD:
            raise DecodeError("bad-headers-length", f"{len(data)} bytes, at most {MAX_HEADERS_PAYLOAD}")
        reader = ByteReader(data)
        count = reader.read_compact_size(MAX_HEADERS_PER_MESSAGE)
        headers, auxpows = [], []
        for _ in range(count):
            header = BlockHeader.deserialize(reader.read(HEADER_BYTES))
            auxpow = None
            if header.is_auxpow():
                start = reader.pos
                auxpow = read_auxpow(reader)
                if reader.pos - start > MAX_AUXPOW_SIZE:
                    raise DecodeError("bad-auxpow-length", f"{reader.pos - start} bytes, at most {MAX_AUXPOW_SIZE}")
            headers.append(header)
            auxpows.append(auxpow)
        reader.check_done()
        return cls(tuple(headers), tuple(auxpows))

    def is_full(self) -> bool:
        """Whether the sender may have stopped for room (2000 headers, or past the byte budget)."""
        if len(self.headers) >= MAX_HEADERS_PER_MESSAGE:
            return True
        size = HEADER_BYTES * len(self.headers)
        size += sum(len(auxpow.serialize()) for auxpow in self.auxpows if auxpow is not None)
        return size > HEADERS_SEND_BUDGET


def encode_headers_entry(header: BlockHeader, auxpow: AuxPow | None) -> bytes:
    """One headers entry: the header, then its CAuxPow exactly when the header has the AuxPoW flag."""
    if header.is_auxpow() != (auxpow is not None):
        raise ValueError("an auxpow goes with exactly the headers that carry the AuxPoW flag")
    return header.serialize() if auxpow is None else header.serialize() + auxpow.serialize()


# ---------------------------------------------------------------- blocks and transactions
@dataclass(frozen=True)
class BlockMessage:
    command: ClassVar[str] = "block"

    block: Block

    def serialize(self) -> bytes:
        return self.block.serialize()

    @classmethod
    def deserialize(cls, data: bytes) -> BlockMessage:
        return cls(parse_block(data, len(data)))  # the frame limit already bounded len(data)


@dataclass(frozen=True)
class TxMessage:
    command: ClassVar[str] = "tx"

    tx: Transaction

    def serialize(self) -> bytes:
        return self.tx.serialize()

    @classmethod
    def deserialize(cls, data: bytes) -> TxMessage:
        return cls(parse_transaction(data))


@dataclass(frozen=True)
class RejectMessage:
    """Why we refused a message: `reason` is the ledger's reason code (`high-hash`, `bad-txns-sig`...)."""

    command: ClassVar[str] = "reject"

    message: str  # the command refused ("block", "tx", ...)
    reason: str
    hash: bytes = ZERO_HASH

    def serialize(self) -> bytes:
        message, reason = self.message.encode("ascii"), self.reason.encode("ascii")[:MAX_REJECT_REASON]
        return encode_var_bytes(message) + encode_var_bytes(reason) + self.hash

    @classmethod
    def deserialize(cls, data: bytes) -> RejectMessage:
        reader = ByteReader(data)
        message = _read_text(reader, MAX_REJECT_MESSAGE, "ascii")
        reason = _read_text(reader, MAX_REJECT_REASON, "ascii")
        block_hash = _read_hash(reader)
        reader.check_done()
        return cls(message, reason, block_hash)


# ---------------------------------------------------------------- work artifacts (used by later layers)
@dataclass(frozen=True)
class GetArtifactMessage:
    """Ask for the artifact whose SHA-256 is `artifact_id`, if it is at most `max_size` bytes."""

    command: ClassVar[str] = "getartifact"

    artifact_id: bytes
    max_size: int

    def serialize(self) -> bytes:
        return self.artifact_id + struct.pack("<I", self.max_size)

    @classmethod
    def deserialize(cls, data: bytes) -> GetArtifactMessage:
        reader = ByteReader(data)
        artifact_id, max_size = _read_hash(reader), reader.read_u32()
        reader.check_done()
        return cls(artifact_id, max_size)


@dataclass(frozen=True)
class ArtifactMessage:
    command: ClassVar[str] = "artifact"

    artifact_id: bytes
    data: bytes

    def serialize(self) -> bytes:
        return self.artifact_id + encode_var_bytes(self.data)

    @classmethod
    def deserialize(cls, data: bytes) -> ArtifactMessage:
        reader = ByteReader(data)
        artifact_id = _read_hash(reader)
        body = reader.read_var_bytes(len(data))  # the frame limit already bounded the payload
        reader.check_done()
        return cls(artifact_id, body)


MESSAGE_TYPES: dict[str, type] = {
    cls.command: cls
    for cls in (
        VersionMessage,
        VerackMessage,
        PingMessage,
        PongMessage,
        GetAddrMessage,
        AddrMessage,
        InvMessage,
        GetDataMessage,
        NotFoundMessage,
        GetHeadersMessage,
        HeadersMessage,
        BlockMessage,
        TxMessage,
        RejectMessage,
        GetArtifactMessage,
        ArtifactMessage,
        RoundAnnouncement,
    )
}


def decode_message(command: str, payload: bytes):
    """The message of a frame; ProtocolError `unknown-command` or `bad-payload` when it is not one."""
    message_type = MESSAGE_TYPES.get(command)
    if message_type is None:
        raise ProtocolError("unknown-command", f"{command!r}")
    try:
        return message_type.deserialize(payload)
    except ProtocolError:
        raise
    except HashgradError as exc:
        raise ProtocolError("bad-payload", f"{command}: {exc}") from exc


def encode_message(magic: bytes, message) -> bytes:
    return encode_frame(magic, message.command, message.serialize())
