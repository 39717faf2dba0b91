"""CompactSize and the bounds-checked ByteReader: canonical encodings only, DecodeError on any short read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashgrad.chain.encoding import MAX_COMPACT_SIZE, ByteReader, encode_compact_size, encode_var_bytes
from hashgrad.errors import DecodeError


@pytest.mark.parametrize(
    "n, raw",
    [
        (0, "00"),
        (0xFC, "fc"),
        (0xFD, "fdfd00"),
        (0xFFFF, "fdffff"),
        (0x10000, "fe00000100"),
        (0xFFFFFFFF, "feffffffff"),
        (0x100000000, "ff0000000001000000"),
    ],
)
def test_encode_compact_size(n, raw):
    assert encode_compact_size(n).hex() == raw
    assert ByteReader(bytes.fromhex(raw)).read_compact_size(limit=1 << 64) == n


@given(st.integers(0, MAX_COMPACT_SIZE))
def test_compact_size_round_trip(n):
    reader = ByteReader(encode_compact_size(n))
    assert reader.read_compact_size() == n
    reader.check_done()


@pytest.mark.parametrize(
    "raw", ["fdfc00", "fd0000", "feffff0000", "fe00000000", "ffffffffff00000000", "ff0000000000000000"]
)
def test_invalid_non_canonical_compact_size(raw):
    with pytest.raises(DecodeError) as err:
        ByteReader(bytes.fromhex(raw)).read_compact_size(limit=1 << 64)
    assert err.value.reason == "bad-encoding"


def test_invalid_compact_size_over_limit():
    with pytest.raises(DecodeError):
        ByteReader(encode_compact_size(MAX_COMPACT_SIZE + 1)).read_compact_size()
    with pytest.raises(DecodeError):
        ByteReader(encode_compact_size(11)).read_compact_size(limit=10)


def test_read_var_bytes():
    reader = ByteReader(encode_var_bytes(b"hello") + b"!")
    assert reader.read_var_bytes() == b"hello"
    assert reader.remaining() == 1
    with pytest.raises(DecodeError):
        reader.check_done()


@pytest.mark.parametrize(
    "method",
    ["read_u8", "read_u16", "read_u32", "read_i32", "read_u64", "read_i64", "read_compact_size", "read_var_bytes"],
)
def test_invalid_truncated(method):
    with pytest.raises(DecodeError) as err:
        getattr(ByteReader(b""), method)()
    assert err.value.reason == "bad-encoding"
    with pytest.raises(DecodeError):
        ByteReader(b"\x05abcd").read_var_bytes()


def test_invalid_negative_read():
    with pytest.raises(DecodeError):
        ByteReader(b"abc").read(-1)


def test_integers_little_endian():
    reader = ByteReader(bytes.fromhex("ffffffff01000000feffffffffffffff"))
    assert reader.read_i32() == -1
    assert reader.read_u32() == 1
    assert reader.read_i64() == -2
    reader.check_done()
