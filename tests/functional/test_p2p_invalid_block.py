"""Misbehaving peers are disconnected and banned while the node keeps serving its honest peers.

A raw socket from the test plays each bad peer, each from its own loopback address (127.0.0.2 ...),
so each ban is checked on its own and the honest nodes on 127.0.0.1 stay connected throughout:

    garbage bytes               bad-magic          (before any handshake)
    an oversized frame header   oversized-message  (refused before the payload is read)
    a block paying itself +1    bad-cb-amount      (valid proof of work, invalid body)
    a block failing its PoW     high-hash
    a transaction, bad sig      bad-txns-sig

After each: the node sent `reject` with the ledger's reason when there was a message to reject, closed
the connection, lists the address in `listbanned`, refuses its next connection, and a block made on
node0 still reaches node1.
"""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest

from functional.framework import RawPeer, connect_nodes, make_block, new_address, sync_blocks, sync_mempools
from hashgrad.chain.tx import make_transfer
from hashgrad.p2p.messages import BlockMessage, TxMessage
from hashgrad.p2p.wire import compute_message_limits


def assert_banned_and_refused(node, host: str) -> None:
    assert host in {entry["address"] for entry in node.listbanned()}
    again = RawPeer(node, host)
    try:
        assert again.read_until_closed() == []  # dropped before it could say anything
    finally:
        again.close()


def assert_still_serving(node0, node1) -> None:
    node0.generate(1)
    sync_blocks([node0, node1])


@pytest.fixture
def nodes(node_factory):
    node0, node1 = node_factory(2)
    connect_nodes(node1, node0)
    node0.generate(3)
    sync_blocks([node0, node1])
    return node0, node1


def test_garbage_and_oversized_frames(nodes):
    node0, node1 = nodes
    peer = RawPeer(node0, "127.0.0.2")
    peer.send_raw(b"\x00\x01garbage that is no frame at all" * 4)
    peer.read_until_closed()
    peer.close()
    assert_banned_and_refused(node0, "127.0.0.2")

    peer = RawPeer(node0, "127.0.0.3")
    limit = compute_message_limits(node0.params).get_max_payload("block")
    header = struct.pack("<4s12sI4s", node0.params.magic, b"block".ljust(12, b"\x00"), limit + 1, b"\x00" * 4)
    peer.send_raw(header)  # no payload follows: the length alone must get us dropped
    peer.read_until_closed()
    peer.close()
    assert_banned_and_refused(node0, "127.0.0.3")
    reasons = {entry["address"]: entry["ban_reason"] for entry in node0.listbanned()}
    assert reasons == {"127.0.0.2": "bad-magic", "127.0.0.3": "oversized-message"}
    assert node0.getconnectioncount() == 1
    assert_still_serving(node0, node1)


@pytest.mark.parametrize(
    "host, extra_value, valid_pow, reason",
    [
        ("127.0.0.4", 1, True, "bad-cb-amount"),
        ("127.0.0.5", 0, False, "high-hash"),
    ],
)
def test_invalid_block(nodes, host, extra_value, valid_pow, reason):
    node0, node1 = nodes
    tip = node0.getbestblockhash()
    key, _ = new_address(node0.params)
    block = make_block(node0, key.pubkey, extra_value, valid_pow)
    peer = RawPeer(node0, host)
    peer.handshake(best_height=node0.getblockcount() + 1)
    peer.send_message(BlockMessage(block))
    rejects = peer.get_rejects(peer.read_until_closed())
    peer.close()
    assert [(r.message, r.reason, r.hash) for r in rejects] == [("block", reason, block.hash)]
    assert node0.getbestblockhash() == tip
    assert_banned_and_refused(node0, host)
    assert_still_serving(node0, node1)
    assert node1.getblockcount() == 4


def test_bad_signature_transaction(nodes):
    node0, node1 = nodes
    sender, sender_address = new_address(node0.params)
    recipient, _ = new_address(node0.params)
    node0.generate(1, sender_address)
    good = make_transfer(sender, node0.params.magic, 0, recipient.pubkey, 10_000, 1_000)
    bad = replace(good, signature=bytes([good.signature[0] ^ 1]) + good.signature[1:])
    peer = RawPeer(node0, "127.0.0.6")
    peer.handshake()
    peer.send_message(TxMessage(bad))
    rejects = peer.get_rejects(peer.read_until_closed())
    peer.close()
    assert [(r.message, r.reason) for r in rejects] == [("tx", "bad-txns-sig")]
    assert node0.getrawmempool() == []
    assert_banned_and_refused(node0, "127.0.0.6")
    # The honest peer still relays: the good twin goes node1 -> node0 and gets mined there.
    sync_blocks([node0, node1])
    txid = node1.sendrawtransaction(good.serialize().hex())
    assert sync_mempools([node0, node1]) == {txid}
    assert_still_serving(node0, node1)
    assert node1.gettransaction(txid)["confirmations"] == 1
