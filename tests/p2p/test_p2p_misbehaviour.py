"""Misbehaving peers (raw sockets from 127.0.0.2..) are disconnected and banned; honest peers keep syncing."""

from __future__ import annotations

import os
import struct
from dataclasses import replace

from p2p_helpers import (
    REGTEST,
    RawPeer,
    make_high_hash_block,
    make_next_block,
    run,
    start_nodes,
    stop_nodes,
    wait_until,
)

from hashgrad.chain.keys import SigningKey
from hashgrad.chain.tx import make_transfer
from hashgrad.p2p.messages import BlockMessage, HeadersMessage, PingMessage, PongMessage, RejectMessage, TxMessage
from hashgrad.p2p.wire import encode_frame


def test_garbage_oversized_and_bad_magic_peers_are_banned_while_others_sync(tmp_path):
    async def scenario():
        a, b = await start_nodes(tmp_path, 2)
        attackers = []
        try:
            await b.generate(5)
            await a.connect_to(b)
            await wait_until(lambda: a.tip == b.tip)

            garbage = await RawPeer.connect(a.port, "127.0.0.2")
            garbage.send_bytes(os.urandom(64))  # not even a frame: bad magic before any handshake
            oversized = await RawPeer.connect(a.port, "127.0.0.3")
            await oversized.handshake()
            limit = REGTEST.max_block_size + (1 << 20)
            oversized.send_bytes(REGTEST.magic + b"block".ljust(12, b"\0") + struct.pack("<I", limit + 1) + b"\0" * 4)
            wrong_magic = await RawPeer.connect(a.port, "127.0.0.4")
            await wrong_magic.handshake()
            wrong_magic.send_bytes(encode_frame(bytes.fromhex("f1a5c0de"), "ping", b"\0" * 8))
            attackers = [garbage, oversized, wrong_magic]

            for raw in attackers:
                assert await raw.wait_closed()
            for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
                await wait_until(lambda ip=ip: a.manager.is_banned(ip))
            reasons = {e["address"]: e["ban_reason"] for e in a.manager.list_banned()}
            assert reasons == {"127.0.0.2": "bad-magic", "127.0.0.3": "oversized-message", "127.0.0.4": "bad-magic"}
            again = await RawPeer.connect(a.port, "127.0.0.2")  # a banned host is refused at once
            attackers.append(again)
            assert await again.wait_closed()

            await b.generate(20)  # the honest connection is untouched and keeps syncing
            await wait_until(lambda: a.tip == b.tip)
            assert a.manager.connection_count() == 1 and not a.manager.is_banned("127.0.0.1")
        finally:
            for raw in attackers:
                raw.close()
            await stop_nodes([a, b])

    run(scenario())


def test_block_with_a_bad_signature_gets_reject_and_ban(tmp_path):
    async def scenario():
        (a,) = await start_nodes(tmp_path, 1)
        raw = None
        try:
            await a.generate(2)
            tx = make_transfer(a.key, REGTEST.magic, 0, SigningKey.generate().pubkey, 1_000, 1_000)
            forged = replace(tx, signature=bytes(64))
            block = await a.run_blocking(make_next_block, a, [forged])
            raw = await RawPeer.connect(a.port, "127.0.0.2")
            await raw.handshake(best_height=3)
            raw.send(BlockMessage(block))
            reject = await raw.receive_until(RejectMessage)
            assert (reject.message, reject.reason, reject.hash) == ("block", "bad-txns-sig", block.hash)
            assert await raw.wait_closed()
            assert a.manager.is_banned("127.0.0.2") and a.height == 2
        finally:
            if raw is not None:
                raw.close()
            await stop_nodes([a])

    run(scenario())


def test_block_with_bad_proof_of_work_gets_reject_and_ban(tmp_path):
    async def scenario():
        (a,) = await start_nodes(tmp_path, 1)
        raw = None
        try:
            block = await a.run_blocking(make_high_hash_block, a)
            raw = await RawPeer.connect(a.port, "127.0.0.3")
            await raw.handshake()
            raw.send(BlockMessage(block))
            reject = await raw.receive_until(RejectMessage)
            assert reject.reason == "high-hash"
            assert await raw.wait_closed()
            assert a.manager.list_banned()[0]["ban_reason"] == "high-hash" and a.height == 0
        finally:
            if raw is not None:
                raw.close()
            await stop_nodes([a])

    run(scenario())


def test_transactions_bad_signature_bans_low_fee_only_scores_a_point(tmp_path):
    async def scenario():
        (a,) = await start_nodes(tmp_path, 1)
        raw = None
        try:
            await a.generate(1)
            recipient = SigningKey.generate().pubkey
            raw = await RawPeer.connect(a.port, "127.0.0.2")
            await raw.handshake()
            cheap = make_transfer(a.key, REGTEST.magic, 0, recipient, 1_000, 1)
            raw.send(TxMessage(cheap))
            reject = await raw.receive_until(RejectMessage)
            assert (reject.message, reject.reason) == ("tx", "min-relay-fee-not-met")
            assert a.manager.get_peer_info()[0]["banscore"] == 1
            raw.send_bytes(encode_frame(REGTEST.magic, "sendcmpct", b"\x00" * 9))  # unknown: a point, no drop
            raw.send(PingMessage(77))
            assert await raw.receive_until(PongMessage) == PongMessage(77)
            assert a.manager.get_peer_info()[0]["banscore"] == 2
            forged = replace(make_transfer(a.key, REGTEST.magic, 0, recipient, 1_000, 1_000), signature=b"\x01" * 64)
            raw.send(TxMessage(forged))
            assert (await raw.receive_until(RejectMessage)).reason == "bad-txns-sig"
            assert await raw.wait_closed()
            assert a.manager.is_banned("127.0.0.2") and len(a.ledger.mempool) == 0
        finally:
            if raw is not None:
                raw.close()
            await stop_nodes([a])

    run(scenario())


def test_orphan_and_duplicate_blocks_are_not_punished(tmp_path):
    async def scenario():
        a, other = await start_nodes(tmp_path, 2)
        raw = None
        try:
            await a.generate(1)
            hashes = await other.generate(3)  # another chain: its blocks 2 and 3 are orphans to a
            orphan = await other.run_blocking(other.ledger.chainstate.get_block, hashes[2])
            known = await a.run_blocking(a.ledger.chainstate.get_block, a.tip)
            raw = await RawPeer.connect(a.port, "127.0.0.2")
            await raw.handshake()
            raw.send(BlockMessage(orphan))
            raw.send(BlockMessage(known))
            raw.send(PingMessage(5))
            await raw.receive_until(PongMessage)
            await wait_until(lambda: orphan.hash in a.ledger.chainstate.orphans)
            assert a.manager.get_peer_info()[0]["banscore"] == 0 and not a.manager.is_banned("127.0.0.2")
        finally:
            if raw is not None:
                raw.close()
            await stop_nodes([a, other])

    run(scenario())


def test_headers_that_do_not_chain_score_20_and_bad_pow_headers_ban(tmp_path):
    async def scenario():
        (a,) = await start_nodes(tmp_path, 1)
        raw = None
        try:
            good = (await a.run_blocking(make_next_block, a)).header
            raw = await RawPeer.connect(a.port, "127.0.0.2")
            await raw.handshake()
            raw.send(HeadersMessage((good, good)))  # the second does not follow the first
            raw.send(PingMessage(1))
            await raw.receive_until(PongMessage)
            assert a.manager.get_peer_info()[0]["banscore"] == 20
            bad = (await a.run_blocking(make_high_hash_block, a)).header
            raw.send(HeadersMessage((bad,)))
            assert await raw.wait_closed()
            assert a.manager.list_banned()[0]["ban_reason"] == "high-hash"
        finally:
            if raw is not None:
                raw.close()
            await stop_nodes([a])

    run(scenario())
