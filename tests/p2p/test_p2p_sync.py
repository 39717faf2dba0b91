"""PeerManagers over real regtest Ledgers on 127.0.0.1: handshake, headers-first sync, relay, reorg."""

from __future__ import annotations

import logging

import pytest
from p2p_helpers import REGTEST, LocalNode, RawPeer, run, start_nodes, stop_nodes, wait_until

from hashgrad.chain.encoding import encode_compact_size
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.tx import make_transfer
from hashgrad.errors import ProtocolError
from hashgrad.p2p.locator import find_headers_after_locator
from hashgrad.p2p.messages import BlockMessage, GetDataMessage, GetHeadersMessage, VersionMessage
from hashgrad.p2p.wire import MAX_HEADERS_PER_MESSAGE, encode_frame


def test_handshake_exchanges_versions(tmp_path):
    async def scenario():
        a, b = await start_nodes(tmp_path, 2)
        try:
            await a.generate(3)
            peer_id = await b.connect_to(a)
            await wait_until(lambda: a.manager.connection_count() == 1)
            (seen_by_b,) = b.manager.get_peer_info()
            assert seen_by_b["id"] == peer_id and not seen_by_b["inbound"]
            assert seen_by_b["addr"] == f"127.0.0.1:{a.port}"
            assert seen_by_b["subver"] == "/hashgrad-test:n0/" and seen_by_b["startingheight"] == 3
            (seen_by_a,) = a.manager.get_peer_info()
            assert seen_by_a["inbound"] and seen_by_a["subver"] == "/hashgrad-test:n1/"
            assert seen_by_a["startingheight"] == 0 and seen_by_a["version"] == b.manager.protocol_version
            await wait_until(lambda: all(p["pingtime"] is not None for p in a.manager.get_peer_info()))
            assert a.manager.get_peer_info()[0]["bytesrecv"] > 0
            with pytest.raises(ProtocolError) as err:
                await b.connect_to(a)
            assert err.value.reason == "already-connected"
        finally:
            await stop_nodes([a, b])

    run(scenario())


def test_initial_sync_of_200_blocks(tmp_path):
    async def scenario():
        a, b, c = await start_nodes(tmp_path, 3)
        try:
            await a.generate(200)
            await b.connect_to(a)
            await c.connect_to(a)  # two downloaders at once from one source
            await wait_until(lambda: b.tip == a.tip and c.tip == a.tip, timeout=20)
            assert b.height == 200
            audits = [await n.run_blocking(n.ledger.compute_supply_audit) for n in (a, b, c)]
            assert audits[0] == audits[1] == audits[2] and audits[0].is_balanced
            await wait_until(lambda: a.manager.get_peer_info()[0]["synced_height"] == 200)
        finally:
            await stop_nodes([a, b, c])

    run(scenario())


def test_relay_of_a_block_and_a_transaction_along_a_line(tmp_path):
    async def scenario():
        a, b, c = await start_nodes(tmp_path, 3)
        try:
            await a.generate(2)
            await b.connect_to(a)
            await c.connect_to(b)
            await wait_until(lambda: c.height == 2)
            await a.generate(1)  # announced by a's ledger listener: a → b → c
            await wait_until(lambda: c.tip == a.tip)
            recipient = SigningKey.generate().pubkey
            tx = make_transfer(a.key, REGTEST.magic, 0, recipient, 10_000, 1_000)
            await a.run_blocking(a.ledger.submit_transaction, tx)
            a.manager.announce_transaction(tx)
            await wait_until(lambda: tx.txid in c.ledger.mempool)
            await c.generate(1)  # mined on c, the tx leaves every mempool as the block travels back
            await wait_until(lambda: a.tip == c.tip and tx.txid not in a.ledger.mempool)
            assert await a.run_blocking(a.ledger.chainstate.get_transaction, tx.txid) is not None
        finally:
            await stop_nodes([a, b, c])

    run(scenario())


def test_partitions_mined_apart_converge_on_the_most_work_chain(tmp_path):
    async def scenario():
        a, b = await start_nodes(tmp_path, 2)
        try:
            await a.generate(5)
            await b.connect_to(a)
            await wait_until(lambda: b.tip == a.tip)
            await b.manager.disconnect(f"127.0.0.1:{a.port}")
            await wait_until(lambda: a.manager.connection_count() == 0)
            tx = make_transfer(a.key, REGTEST.magic, 0, SigningKey.generate().pubkey, 5_000, 1_000)
            await a.run_blocking(a.ledger.submit_transaction, tx)
            await a.generate(10)  # a's side: 15 blocks, with a's transaction in them
            await b.generate(14)  # b's side: 19 blocks, more work
            assert await a.run_blocking(a.ledger.chainstate.get_transaction, tx.txid) is not None
            await a.connect_to(b)
            await wait_until(lambda: a.tip == b.tip, timeout=15)
            assert a.height == 19
            assert tx.txid in a.ledger.mempool  # the losing side's transaction is pending again
            audits = [await n.run_blocking(n.ledger.compute_supply_audit) for n in (a, b)]
            assert audits[0] == audits[1]
        finally:
            await stop_nodes([a, b])

    run(scenario())


def test_blocks_arriving_out_of_order_are_connected_without_blame(tmp_path):
    async def scenario():
        source, target = await start_nodes(tmp_path, 2)
        raw = None
        try:
            hashes = await source.generate(6)
            blocks = [await source.run_blocking(source.ledger.chainstate.get_block, h) for h in hashes]
            raw = await RawPeer.connect(target.port)
            await raw.handshake()
            for block in reversed(blocks):  # children first: orphans until their parents come
                raw.send(BlockMessage(block))
            raw.send(BlockMessage(blocks[-1]))  # and a duplicate
            await wait_until(lambda: target.tip == source.tip)
            assert target.manager.get_peer_info()[0]["banscore"] == 0
            assert not target.manager.is_banned("127.0.0.2")
        finally:
            if raw is not None:
                raw.close()
            await stop_nodes([source, target])

    run(scenario())


def test_wrong_genesis_and_self_connection_disconnect_without_ban(tmp_path):
    async def scenario():
        (a,) = await start_nodes(tmp_path, 1)
        raw = None
        try:
            raw = await RawPeer.connect(a.port)
            raw.send(VersionMessage(1, 1, 0, REGTEST.magic, b"\x42" * 32, 0, 1, "/other-chain/", 0))
            assert await raw.wait_closed()
            assert not a.manager.is_banned("127.0.0.2")
            with pytest.raises(ProtocolError) as err:
                await a.manager.connect("127.0.0.1", a.port)
            assert err.value.reason == "connect-failed" and "self-connection" in err.value.detail
            await wait_until(lambda: a.manager.connection_count() == 0)
            assert not a.manager.is_banned("127.0.0.1")
        finally:
            if raw is not None:
                raw.close()
            await stop_nodes([a])

    run(scenario())


def test_sync_past_one_headers_message_continues_from_the_last_header(tmp_path):
    async def scenario():
        a, b = await start_nodes(tmp_path, 2)
        try:
            await a.generate(MAX_HEADERS_PER_MESSAGE + 60)  # two headers rounds: 2000, then 60
            await b.connect_to(a)
            await wait_until(lambda: b.tip == a.tip, timeout=40)
        finally:
            await stop_nodes([a, b])

    run(scenario(), timeout=60)


def test_a_peer_that_stalls_downloads_is_dropped_and_another_finishes_the_sync(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="hashgrad.p2p")

    async def scenario():
        source = (await start_nodes(tmp_path, 1))[0]
        target = await LocalNode(tmp_path, "target", block_timeout_s=1.0).start()
        staller = None
        try:
            await source.generate(40)
            headers = await source.run_blocking(find_headers_after_locator, source.ledger.chainstate, [])
            staller = await RawPeer.connect(target.port)
            await staller.handshake(best_height=40)
            await staller.receive_until(GetHeadersMessage)
            staller.send_bytes(encode_frame(REGTEST.magic, "headers", encode_compact_size(40) + b"".join(headers)))
            await staller.receive_until(GetDataMessage)  # ... and never answers it
            await target.connect_to(source)
            assert await staller.wait_closed(timeout=10)
            await wait_until(lambda: target.tip == source.tip)
            assert not target.manager.is_banned("127.0.0.2")
            assert "disconnecting: block-download-timeout" in caplog.text
        finally:
            if staller is not None:
                staller.close()
            await stop_nodes([source, target])

    run(scenario())
