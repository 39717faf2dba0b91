"""Frames: encode/parse round trips and every rejection with its reason code."""

from __future__ import annotations

import asyncio
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashgrad.chain.hashes import sha256d
from hashgrad.chain.params import get_network
from hashgrad.errors import ProtocolError
from hashgrad.p2p.wire import (
    AUXPOW_SLACK,
    FRAME_HEADER_SIZE,
    MAX_HEADERS_PAYLOAD,
    UNKNOWN_COMMAND_LIMIT,
    compute_checksum,
    compute_message_limits,
    decode_command,
    encode_frame,
    parse_frame_header,
    read_frame,
)

REGTEST = get_network("regtest")
MAGIC = REGTEST.magic
LIMITS = compute_message_limits(REGTEST, max_artifact_size=1 << 20)


def read_bytes(data: bytes, limits=LIMITS, magic=MAGIC):
    async def go():
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_frame(reader, magic, limits)

    return asyncio.run(go())


def test_encode_frame_layout_is_bitcoins():
    frame = encode_frame(MAGIC, "ping", b"\x01" * 8)
    assert frame[:4] == MAGIC
    assert frame[4:16] == b"ping" + b"\x00" * 8
    assert struct.unpack("<I", frame[16:20])[0] == 8
    assert frame[20:24] == sha256d(b"\x01" * 8)[:4]
    assert frame[24:] == b"\x01" * 8


def test_empty_payload_checksum_is_bitcoins():
    assert compute_checksum(b"") == bytes.fromhex("5df6e0e2")  # Bitcoin's verack checksum


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["inv", "tx", "block", "addr", "sendcmpct"]), st.binary(max_size=2000))
def test_read_frame_round_trip(command, payload):
    assert read_bytes(encode_frame(MAGIC, command, payload)) == (command, payload)


def test_bad_magic():
    frame = encode_frame(get_network("main").magic, "ping", b"\x00" * 8)
    with pytest.raises(ProtocolError) as err:
        read_bytes(frame)
    assert err.value.reason == "bad-magic"


def test_bad_checksum():
    frame = bytearray(encode_frame(MAGIC, "ping", b"\x00" * 8))
    frame[-1] ^= 1
    with pytest.raises(ProtocolError) as err:
        read_bytes(bytes(frame))
    assert err.value.reason == "bad-checksum"


def test_oversized_message_is_refused_before_reading_the_payload():
    limit = LIMITS.get_max_payload("tx")
    assert limit == REGTEST.max_tx_size
    header = MAGIC + b"tx".ljust(12, b"\x00") + struct.pack("<I", limit + 1) + b"\x00" * 4
    with pytest.raises(ProtocolError) as err:
        read_bytes(header)  # no payload follows: the header alone is enough to refuse
    assert err.value.reason == "oversized-message"


@pytest.mark.parametrize(
    "command,limit",
    [
        ("ping", 8),
        ("verack", 0),
        ("headers", MAX_HEADERS_PAYLOAD),
        ("block", 1_000_000 + AUXPOW_SLACK),
        ("getartifact", 36),
    ],
)
def test_per_message_limits(command, limit):
    assert LIMITS.get_max_payload(command) == limit
    parse_frame_header(
        MAGIC + command.encode().ljust(12, b"\x00") + struct.pack("<I", limit) + b"\x00" * 4, MAGIC, LIMITS
    )
    with pytest.raises(ProtocolError) as err:
        parse_frame_header(
            MAGIC + command.encode().ljust(12, b"\x00") + struct.pack("<I", limit + 1) + b"\0" * 4, MAGIC, LIMITS
        )
    assert err.value.reason == "oversized-message"


def test_unknown_commands_are_framed_up_to_their_own_cap():
    header = parse_frame_header(encode_frame(MAGIC, "sendcmpct", b"")[:FRAME_HEADER_SIZE], MAGIC, LIMITS)
    assert header.command == "sendcmpct"
    assert not LIMITS.is_known("sendcmpct")
    big = MAGIC + b"sendcmpct".ljust(12, b"\x00") + struct.pack("<I", UNKNOWN_COMMAND_LIMIT + 1) + b"\x00" * 4
    with pytest.raises(ProtocolError) as err:
        parse_frame_header(big, MAGIC, LIMITS)
    assert err.value.reason == "oversized-message"


def test_frame_cap_bounds_the_artifact_limit():
    limits = compute_message_limits(REGTEST, max_artifact_size=64 << 20)
    assert limits.frame_cap >= 64 << 20
    assert limits.get_max_payload("artifact") == 32 + 9 + (64 << 20)


@pytest.mark.parametrize(
    "raw", [b"\x00" * 12, b"pi\x00ng".ljust(12, b"\x00"), b"p\xffng".ljust(12, b"\x00"), b"ping ".ljust(12, b"\x00")]
)
def test_malformed_command_field(raw):
    with pytest.raises(ProtocolError) as err:
        decode_command(raw)
    assert err.value.reason == "bad-command"


def test_truncated_stream_is_connection_closed():
    frame = encode_frame(MAGIC, "ping", b"\x00" * 8)
    with pytest.raises(ProtocolError) as err:
        read_bytes(frame[:-3])
    assert err.value.reason == "connection-closed"


def test_encode_command_refuses_bad_names():
    with pytest.raises(ValueError):
        encode_frame(MAGIC, "much-too-long-command", b"")
