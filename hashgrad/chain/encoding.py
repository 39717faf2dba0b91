"""Canonical byte encoding helpers shared by every consensus and wire object.

Integers are little-endian as in Bitcoin; variable lengths use Bitcoin's CompactSize, and decoding
rejects non-canonical CompactSize as Bitcoin Core does. A `ByteReader` never reads past its buffer:
every short read raises `DecodeError("bad-encoding")`, so untrusted bytes cannot raise anything else.
`parse_hex` is the one way hex text from outside (RPC, files, headers, the command line) becomes bytes.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

from hashgrad.errors import DecodeError, HashgradError

MAX_COMPACT_SIZE = 0x02000000  # Bitcoin Core's MAX_SIZE: 32 MiB
HEX_TEXT = re.compile(r"[0-9a-fA-F]*")  # bytes.fromhex alone would also let spaces through


def is_hex(text) -> bool:
    """Whether `text` is an even-length string of hex digits (what `parse_hex` accepts)."""
    return isinstance(text, str) and len(text) % 2 == 0 and HEX_TEXT.fullmatch(text) is not None


def parse_hex(
    text,
    what: str = "value",
    *,
    size: int | None = None,
    max_size: int | None = None,
    reason: str = "bad-hex",
    length_reason: str | None = None,
    error: Callable[[str, str], HashgradError] = DecodeError,
) -> bytes:
    """Bytes from an even-length hex string: exactly `size` bytes, or at most `max_size`.

    Anything else raises `error(reason, detail)`: not a string, odd length, a character that is not
    a hex digit (whitespace included, which bytes.fromhex would skip); a wrong length raises
    `length_reason` where one is given. Lengths are checked before decoding, so oversized text is
    refused without being decoded. `error` is the caller's layer's error type (or a factory)."""
    if not isinstance(text, str):
        raise error(reason, f"{what} must be a hex string")
    if size is not None and len(text) != 2 * size:
        raise error(length_reason or reason, f"{what} must be {size} bytes ({2 * size} hex characters)")
    if max_size is not None and len(text) > 2 * max_size:
        raise error(length_reason or reason, f"{what} is {len(text) // 2} bytes, at most {max_size}")
    if not is_hex(text):
        raise error(reason, f"{what} is not an even-length hex string")
    return bytes.fromhex(text)


def encode_compact_size(n: int) -> bytes:
    if n < 0:
        raise ValueError("negative length")
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


def encode_var_bytes(data: bytes) -> bytes:
    return encode_compact_size(len(data)) + data


class ByteReader:
    """A cursor over bytes whose reads are bounds-checked and raise DecodeError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0):
        self.data = memoryview(data).tobytes() if not isinstance(data, bytes) else data
        self.pos = pos

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError("bad-encoding", f"need {n} bytes at offset {self.pos}, have {self.remaining()}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def read_u8(self) -> int:
        return self.read(1)[0]

    def read_u16(self) -> int:
        return struct.unpack("<H", self.read(2))[0]

    def read_u32(self) -> int:
        return struct.unpack("<I", self.read(4))[0]

    def read_i32(self) -> int:
        return struct.unpack("<i", self.read(4))[0]

    def read_u64(self) -> int:
        return struct.unpack("<Q", self.read(8))[0]

    def read_i64(self) -> int:
        return struct.unpack("<q", self.read(8))[0]

    def read_compact_size(self, limit: int = MAX_COMPACT_SIZE) -> int:
        first = self.read_u8()
        if first < 0xFD:
            n = first
        elif first == 0xFD:
            n = self.read_u16()
            if n < 0xFD:
                raise DecodeError("bad-encoding", "non-canonical compact size")
        elif first == 0xFE:
            n = self.read_u32()
            if n <= 0xFFFF:
                raise DecodeError("bad-encoding", "non-canonical compact size")
        else:
            n = self.read_u64()
            if n <= 0xFFFFFFFF:
                raise DecodeError("bad-encoding", "non-canonical compact size")
        if n > limit:
            raise DecodeError("bad-encoding", f"size {n} over limit {limit}")
        return n

    def read_var_bytes(self, limit: int = MAX_COMPACT_SIZE) -> bytes:
        return self.read(self.read_compact_size(limit))

    def check_done(self) -> None:
        if self.pos != len(self.data):
            raise DecodeError("bad-encoding", f"{self.remaining()} trailing bytes")
