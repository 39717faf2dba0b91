"""The frame every P2P message travels in, and how big each message may be. Bitcoin's layout:

    magic 4 (the network's `params.magic`) | command 12 (ASCII, NUL-padded) | length u32 LE |
    checksum 4 (first 4 bytes of SHA256d(payload)) | payload

A reader checks the magic, the command field and the announced length against that command's
limit *before* reading the payload, so a peer cannot make us buffer more than the limit; the
checksum is checked once the payload is in. Every failure raises ProtocolError with a stable reason:
`bad-magic`, `bad-command`, `oversized-message`, `bad-checksum`, `connection-closed`.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hashgrad.chain.auxpow import MAX_AUXPOW_SIZE
from hashgrad.chain.hashes import sha256d
from hashgrad.chain.params import ChainParams
from hashgrad.errors import ProtocolError

FRAME_HEADER_SIZE = 24
COMMAND_SIZE = 12
_FRAME_HEADER = struct.Struct("<4s12sI4s")

# Counts and lengths bounded by the protocol (Bitcoin Core's values where it has one).
MAX_HEADERS_PER_MESSAGE = 2_000
MAX_INV_ENTRIES = 50_000
MAX_ADDR_ENTRIES = 1_000
MAX_LOCATOR_HASHES = 101
MAX_USER_AGENT = 256
MAX_REJECT_MESSAGE = 12
MAX_REJECT_REASON = 111

INV_ENTRY_SIZE = 4 + 32
ADDR_ENTRY_SIZE = 4 + 8 + 16 + 2
HEADER_BYTES = 80
AUXPOW_SLACK = 1 << 20  # a merge-mined block carries a parent coinbase and Merkle branches on top
# A headers entry is the 80-byte header followed, when it carries the AuxPoW flag, by its CAuxPow
# (Namecoin's layout), so a message is bounded by bytes as well as by count. A sender stops adding
# entries once HEADERS_SEND_BUDGET is passed; as every entry is at most MAX_HEADERS_ENTRY, the message
# stays within MAX_HEADERS_PAYLOAD, and a message past the budget counts as full (ask for more).
MAX_HEADERS_ENTRY = HEADER_BYTES + MAX_AUXPOW_SIZE
MAX_HEADERS_PAYLOAD = 4_000_000
DEFAULT_MAX_ARTIFACT_SIZE = 32 << 20
UNKNOWN_COMMAND_LIMIT = 1 << 20  # a newer peer's message we do not know is read (then ignored) up to this

_COMPACT_MAX = 9  # the longest CompactSize prefix
HEADERS_SEND_BUDGET = MAX_HEADERS_PAYLOAD - _COMPACT_MAX - MAX_HEADERS_ENTRY


@dataclass(frozen=True)
class MessageLimits:
    """Largest payload accepted per command; `frame_cap` bounds every frame whatever its command."""

    sizes: Mapping[str, int]
    frame_cap: int

    def get_max_payload(self, command: str) -> int:
        return min(self.sizes.get(command, UNKNOWN_COMMAND_LIMIT), self.frame_cap)

    def is_known(self, command: str) -> bool:
        return command in self.sizes


def compute_message_limits(params: ChainParams, max_artifact_size: int = DEFAULT_MAX_ARTIFACT_SIZE) -> MessageLimits:
    """The per-command payload limits of a network (block and tx sizes come from its parameters)."""
    inv_list = _COMPACT_MAX + MAX_INV_ENTRIES * INV_ENTRY_SIZE
    sizes = {
        "version": 4 + 8 + 8 + 4 + 32 + 4 + 8 + _COMPACT_MAX + MAX_USER_AGENT + 2,
        "verack": 0,
        "ping": 8,
        "pong": 8,
        "getaddr": 0,
        "addr": _COMPACT_MAX + MAX_ADDR_ENTRIES * ADDR_ENTRY_SIZE,
        "inv": inv_list,
        "getdata": inv_list,
        "notfound": inv_list,
        "getheaders": _COMPACT_MAX + MAX_LOCATOR_HASHES * 32 + 32,
        "headers": MAX_HEADERS_PAYLOAD,
        "block": params.max_block_size + AUXPOW_SLACK,
        "tx": params.max_tx_size,
        "reject": 2 * _COMPACT_MAX + MAX_REJECT_MESSAGE + MAX_REJECT_REASON + 32,
        "getartifact": 32 + 4,
        "artifact": 32 + _COMPACT_MAX + max_artifact_size,
        "roundann": 2 + 4 + 2 + 32 + 32 + 64,
    }
    return MessageLimits(MappingProxyType(sizes), max(sizes.values()))


@dataclass(frozen=True)
class FrameHeader:
    command: str
    length: int
    checksum: bytes


def compute_checksum(payload: bytes) -> bytes:
    return sha256d(payload)[:4]


def encode_command(command: str) -> bytes:
    raw = command.encode("ascii")
    if not raw or len(raw) > COMMAND_SIZE or not raw.isalnum():
        raise ValueError(f"bad command name {command!r}")
    return raw.ljust(COMMAND_SIZE, b"\x00")


def decode_command(raw: bytes) -> str:
    """The command of a 12-byte field: printable ASCII then only NUL padding (Bitcoin Core's rule)."""
    name = raw.rstrip(b"\x00")
    if not name or b"\x00" in name or not all(0x20 < b < 0x7F for b in name):
        raise ProtocolError("bad-command", f"malformed command field {raw!r}")
    return name.decode("ascii")


def encode_frame(magic: bytes, command: str, payload: bytes) -> bytes:
    return _FRAME_HEADER.pack(magic, encode_command(command), len(payload), compute_checksum(payload)) + payload


def parse_frame_header(data: bytes, magic: bytes, limits: MessageLimits) -> FrameHeader:
    """Check a 24-byte frame header: magic, command field, length within the command's limit."""
    their_magic, raw_command, length, checksum = _FRAME_HEADER.unpack(data)
    if their_magic != magic:
        raise ProtocolError("bad-magic", f"magic {their_magic.hex()} is not this network's {magic.hex()}")
    command = decode_command(raw_command)
    limit = limits.get_max_payload(command)
    if length > limit:
        raise ProtocolError("oversized-message", f"{command}: {length} bytes over the {limit}-byte limit")
    return FrameHeader(command, length, checksum)


def check_checksum(header: FrameHeader, payload: bytes) -> None:
    if compute_checksum(payload) != header.checksum:
        raise ProtocolError("bad-checksum", f"{header.command}: payload checksum mismatch")


async def read_frame(reader: asyncio.StreamReader, magic: bytes, limits: MessageLimits) -> tuple[str, bytes]:
    """Read one frame; returns (command, payload). The payload is never read past its limit."""
    try:
        header = parse_frame_header(await reader.readexactly(FRAME_HEADER_SIZE), magic, limits)
        payload = await reader.readexactly(header.length) if header.length else b""
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError("connection-closed", f"stream ended after {len(exc.partial)} bytes") from None
    check_checksum(header, payload)
    return header.command, payload
