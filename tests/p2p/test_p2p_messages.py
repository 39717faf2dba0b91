"""Every wire message: serialize → deserialize round trips, and malformed payloads refused as `bad-payload`."""

from __future__ import annotations

import os
import struct
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashgrad.chain.encoding import encode_compact_size
from hashgrad.chain.genesis import build_genesis_block
from hashgrad.chain.header import VERSION_AUXPOW, BlockHeader
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import get_network
from hashgrad.chain.tx import make_transfer
from hashgrad.chain.validation import check_header_proof
from hashgrad.errors import ProtocolError
from hashgrad.p2p.messages import (
    MESSAGE_TYPES,
    AddrEntry,
    AddrMessage,
    ArtifactMessage,
    BlockMessage,
    GetAddrMessage,
    GetArtifactMessage,
    GetDataMessage,
    GetHeadersMessage,
    HeadersMessage,
    InvEntry,
    InvMessage,
    InvType,
    NotFoundMessage,
    PingMessage,
    PongMessage,
    RejectMessage,
    TxMessage,
    VerackMessage,
    VersionMessage,
    decode_message,
)
from hashgrad.p2p.wire import HEADERS_SEND_BUDGET, MAX_HEADERS_PAYLOAD, compute_message_limits
from support.auxpow import build_pool_auxpow, make_child_header

REGTEST = get_network("regtest")
LIMITS = compute_message_limits(REGTEST)

hashes = st.binary(min_size=32, max_size=32)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = (
    st.binary(min_size=16, max_size=16)
    .filter(lambda b: b[:12] != b"\0" * 10 + b"\xff\xff")
    .map(lambda b: str(__import__("ipaddress").IPv6Address(b)))
)
ports = st.integers(0, 65535)
inv_entries = st.lists(st.builds(InvEntry, st.sampled_from(list(InvType)), hashes), max_size=20).map(tuple)
# plain headers (no AuxPoW flag): merge-mined ones need a real proof, see the tests below
plain_versions = st.integers(-(2**31), 2**31 - 1).map(lambda v: v & ~VERSION_AUXPOW)
headers = st.builds(BlockHeader, plain_versions, hashes, hashes, u32, u32, u32)

MESSAGES = st.one_of(
    st.builds(
        VersionMessage,
        u32,
        u64,
        st.integers(-(2**63), 2**63 - 1),
        st.binary(min_size=4, max_size=4),
        hashes,
        st.integers(-(2**31), 2**31 - 1),
        u64,
        st.text(max_size=60),
        ports,
    ),
    st.just(VerackMessage()),
    st.just(GetAddrMessage()),
    st.builds(PingMessage, u64),
    st.builds(PongMessage, u64),
    st.builds(
        AddrMessage, st.lists(st.builds(AddrEntry, u32, u64, st.one_of(ipv4, ipv6), ports), max_size=10).map(tuple)
    ),
    st.builds(InvMessage, inv_entries),
    st.builds(GetDataMessage, inv_entries),
    st.builds(NotFoundMessage, inv_entries),
    st.builds(GetHeadersMessage, st.lists(hashes, max_size=101).map(tuple), hashes),
    st.builds(HeadersMessage, st.lists(headers, max_size=10).map(tuple)),
    st.builds(
        RejectMessage,
        st.sampled_from(["block", "tx"]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", max_size=40),
        hashes,
    ),
    st.builds(GetArtifactMessage, hashes, u32),
    st.builds(ArtifactMessage, hashes, st.binary(max_size=300)),
)


@settings(max_examples=300, deadline=None)
@given(MESSAGES)
def test_round_trip(message):
    payload = message.serialize()
    assert len(payload) <= LIMITS.get_max_payload(message.command)
    assert decode_message(message.command, payload) == message


def test_block_and_tx_round_trip():
    key = SigningKey(b"\x01" * 32)
    tx = make_transfer(key, REGTEST.magic, 0, SigningKey(b"\x02" * 32).pubkey, 1000, 500)
    assert decode_message("tx", TxMessage(tx).serialize()) == TxMessage(tx)
    genesis = build_genesis_block(REGTEST)
    decoded = decode_message("block", BlockMessage(genesis).serialize())
    assert decoded.block.hash == genesis.hash and decoded.block.txs == genesis.txs


def test_every_command_has_a_limit():
    assert set(MESSAGE_TYPES) == set(LIMITS.sizes)


def test_unknown_command():
    with pytest.raises(ProtocolError) as err:
        decode_message("sendcmpct", b"")
    assert err.value.reason == "unknown-command"


def version_bytes(user_agent: bytes) -> bytes:
    fixed = struct.pack("<IQq4s32siQ", 1, 1, 0, REGTEST.magic, b"\0" * 32, 0, 7)
    return fixed + encode_compact_size(len(user_agent)) + user_agent + b"\x00\x00"


@pytest.mark.parametrize(
    "command,payload",
    [
        ("ping", b"\x00" * 7),  # truncated
        ("ping", b"\x00" * 9),  # trailing byte
        ("verack", b"\x00"),
        ("inv", encode_compact_size(50_001)),  # over the entry limit
        ("inv", encode_compact_size(2) + b"\x02\x00\x00\x00" + b"\x11" * 32),  # fewer entries than announced
        ("addr", encode_compact_size(1_001)),
        ("headers", encode_compact_size(2_001)),
        ("getheaders", encode_compact_size(102)),
        ("version", version_bytes(b"a" * 257)),  # user agent over 256 bytes
        ("version", version_bytes(b"\xff\xfe")),  # user agent not UTF-8
        ("reject", encode_compact_size(13) + b"a" * 13 + b"\x00" + b"\x00" * 32),  # message name too long
        ("block", os.urandom(120)),
        ("tx", b"\x01\x01" + b"\x00" * 10),
        ("inv", b"\xfd\x01\x00"),  # non-canonical CompactSize
    ],
)
def test_bad_payload(command, payload):
    with pytest.raises(ProtocolError) as err:
        decode_message(command, payload)
    assert err.value.reason == "bad-payload"


def test_version_user_agent_at_limit_is_accepted():
    message = decode_message("version", version_bytes(b"u" * 256))
    assert message.user_agent == "u" * 256 and message.listen_port == 0


def test_addr_entries_keep_ipv4_and_ipv6_and_big_endian_port():
    entries = (AddrEntry(5, 1, "10.1.2.3", 8333), AddrEntry(6, 1, "2001:db8::1", 18444))
    payload = AddrMessage(entries).serialize()
    assert payload[1 + 12 : 1 + 28] == b"\x00" * 10 + b"\xff\xff" + bytes([10, 1, 2, 3])
    assert payload[1 + 28 : 1 + 30] == struct.pack(">H", 8333)
    assert decode_message("addr", payload).entries == entries


def test_inv_helpers_filter_by_type():
    message = InvMessage(
        (InvEntry(InvType.TX, b"\1" * 32), InvEntry(InvType.BLOCK, b"\2" * 32), InvEntry(99, b"\3" * 32))
    )
    assert message.get_hashes(InvType.BLOCK) == [b"\2" * 32]
    assert decode_message("inv", message.serialize()).entries[2].type == 99  # unknown types parse, then are ignored


# ---------------------------------------------------------------- headers with their AuxPoW proofs
def make_merge_mined(tag: bytes):
    child = make_child_header(chain_id=REGTEST.chain_id, bits=REGTEST.genesis_bits, tag=tag)
    return child, build_pool_auxpow(child, others={7: b"\x07" * 32}, merkle_height=2)


def test_plain_headers_message_is_unchanged_bytes():
    genesis = build_genesis_block(REGTEST).header
    payload = HeadersMessage((genesis, genesis)).serialize()
    assert payload == b"\x02" + genesis.serialize() * 2  # CompactSize count, then bare 80-byte headers
    assert decode_message("headers", payload) == HeadersMessage((genesis, genesis), (None, None))


def test_headers_message_round_trip_with_auxpow():
    plain = build_genesis_block(REGTEST).header
    (child, auxpow), (other, other_auxpow) = make_merge_mined(b"a"), make_merge_mined(b"b")
    message = HeadersMessage((plain, child, other), (None, auxpow, other_auxpow))
    payload = message.serialize()
    # each entry: the header, then its CAuxPow when flagged (Namecoin's layout); no tx count
    assert payload == b"\x03" + plain.serialize() + child.serialize() + auxpow.serialize() + other.serialize() + (
        other_auxpow.serialize()
    )
    decoded = decode_message("headers", payload)
    assert decoded == message and decoded.auxpows[1] == auxpow
    check_header_proof(REGTEST, child, decoded.auxpows[1])  # the proof still holds after the trip
    assert not decoded.is_full()


def test_headers_message_needs_a_proof_exactly_on_flagged_headers():
    plain = build_genesis_block(REGTEST).header
    child, auxpow = make_merge_mined(b"c")
    with pytest.raises(ValueError):
        HeadersMessage((child,)).serialize()
    with pytest.raises(ValueError):
        HeadersMessage((plain,), (auxpow,)).serialize()
    with pytest.raises(ValueError):
        HeadersMessage((plain, child), (auxpow,))


@pytest.mark.parametrize(
    "payload_of",
    [
        lambda child, auxpow: b"\x01" + child.serialize(),  # flagged, no proof
        lambda child, auxpow: b"\x01" + child.serialize() + auxpow.serialize()[:-1],  # proof cut short
        lambda child, auxpow: b"\x01" + child.serialize() + auxpow.serialize() + b"\x00",  # trailing byte
        lambda child, auxpow: b"\x01" + child.serialize() + b"\x00" * (MAX_HEADERS_PAYLOAD),  # over the bound
    ],
)
def test_bad_auxpow_headers_payload(payload_of):
    child, auxpow = make_merge_mined(b"d")
    with pytest.raises(ProtocolError) as err:
        decode_message("headers", payload_of(child, auxpow))
    assert err.value.reason == "bad-payload"


def test_headers_message_over_the_byte_budget_counts_as_full():
    child, auxpow = make_merge_mined(b"e")
    fat = replace(auxpow, coinbase_branch=auxpow.coinbase_branch + (b"\x01" * 32,) * 60)
    entry_size = 80 + len(fat.serialize())
    count = HEADERS_SEND_BUDGET // entry_size + 1
    message = HeadersMessage((child,) * count, (fat,) * count)
    assert count < 2000 and message.is_full()
    assert len(message.serialize()) <= LIMITS.get_max_payload("headers")
