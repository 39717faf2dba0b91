"""One invalid block per consensus rule, as Bitcoin Core's feature_block.py: each is refused with its
exact reason code over P2P (a `reject` from the node) and over `submitblock` (the reason as result),
and the node's state is the same after each as before.

A real regtest node process. Blocks are built by hand on its tip (tests/ledger/helpers builders,
every field right unless the case breaks it); each case builds two twins (different coinbase extra),
one sent by a raw P2P peer from its own loopback address, one by submitblock, since a block refused
once is then answered `duplicate-invalid`. The state compared: best block, height, chain work, supply,
mempool size and the funded account. Rules covered: see RULES, plus bad-prevblk and duplicate-invalid.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from functional.framework import RawPeer, TestNode, display_to_hash
from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.block import Block
from hashgrad.chain.hashes import hash_to_int
from hashgrad.chain.pow import compute_target
from hashgrad.chain.tx import TransferPayload, TxKind, make_coinbase, sign_transaction
from hashgrad.p2p.messages import BlockMessage, PingMessage, PongMessage, RejectMessage
from support.ledger import compute_maker_reward, make_block, make_key

FUNDED = make_key(4242)
OTHER = make_key(4343)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = TestNode(0, tmp_path_factory.mktemp("feature_block"))
    node.start()
    try:
        node.generate(2, encode_address(node.params.hrp, FUNDED.pubkey))
        node.generate(1)
        yield node
    finally:
        node.cleanup()


def snapshot(node) -> dict:
    info = node.getblockchaininfo()
    return {
        "best": node.getbestblockhash(),
        "height": node.getblockcount(),
        "chainwork": info.get("chainwork"),
        "supply": node.getsupply(),
        "mempool": node.getmempoolinfo()["size"],
        "funded": node.getaccount(encode_address(node.params.hrp, FUNDED.pubkey)),
    }


def tip_context(node) -> dict:
    best = node.getbestblockhash()
    header = node.getblockheader(best)
    return {
        "hash": display_to_hash(best),
        "height": header["height"],
        "time": header["time"],
        "mtp": node.getblockchaininfo()["mediantime"],
    }


def transfer(node, nonce: int, amount: int, fee: int = 1_000, key=FUNDED, recipient=OTHER.pubkey):
    payload = TransferPayload(recipient, amount).serialize()
    return sign_transaction(key, node.params.magic, TxKind.TRANSFER, nonce, fee, payload)


def regrind(block: Block, params, valid: bool = True) -> Block:
    target = compute_target(block.header.bits, params.pow.pow_limit)
    nonce = next(n for n in range(1 << 24) if (hash_to_int(block.header.with_nonce(n).hash) <= target) == valid)
    return replace(block, header=block.header.with_nonce(nonce))


def build(node, case: str, tag: bytes, later: int = 0) -> Block:
    """The block that breaks exactly the rule named `case` (`later` seconds later than the default time:
    twins whose header does not cover the tag, e.g. a wrong Merkle root, differ by time)."""
    params, tip = node.params, tip_context(node)
    height, parent, when = tip["height"] + 1, tip["hash"], max(tip["time"], int(time.time())) + 1 + later
    balance = node.getaccount(encode_address(params.hrp, FUNDED.pubkey))["balance"]
    nonce = node.getaccount(encode_address(params.hrp, FUNDED.pubkey))["nonce"]

    def block(txs=(), **kwargs) -> Block:
        kwargs.setdefault("extra", tag)
        return make_block(parent, height, kwargs.pop("time", when), tuple(txs), params=params, **kwargs)

    good_tx = transfer(node, nonce, 10_000)
    if case == "high-hash":
        return block(valid_pow=False)
    if case == "bad-diffbits":
        return block(bits=params.genesis_bits - 1)
    if case == "time-too-old":
        return block(time=tip["mtp"])
    if case == "time-too-new":
        return block(time=int(time.time()) + 3 * 60 * 60)
    if case == "bad-chain-id":
        return block(version=((params.chain_id + 1) << 16) | 1)
    if case == "bad-cb-missing":
        return block((good_tx,), with_coinbase=False)
    if case == "bad-cb-multiple":
        return block((make_coinbase(height, OTHER.pubkey, 1, tag),))
    if case == "bad-txnmrklroot":
        return block(merkle_root=bytes(32))
    if case == "bad-txns-duplicate":  # CVE-2012-2459: (cb, a, b, b) has the Merkle root of (cb, a, b)
        second = transfer(node, nonce + 1, 10_000)
        return block((good_tx, second, second))
    if case == "bad-cb-form":
        cb = make_coinbase(height, OTHER.pubkey, compute_maker_reward(params, height), tag)
        return block(coinbase=replace(cb, fee=1))
    if case == "bad-cb-height":
        return block(coinbase=make_coinbase(height + 1, OTHER.pubkey, compute_maker_reward(params, height), tag))
    if case == "bad-cb-amount":
        return block(coinbase=make_coinbase(height, OTHER.pubkey, compute_maker_reward(params, height) + 1, tag))
    if case == "bad-txns-sig":
        return block((replace(good_tx, signature=bytes([good_tx.signature[0] ^ 1]) + good_tx.signature[1:]),))
    if case == "bad-txns-nonce":
        return block((transfer(node, nonce + 1, 10_000),))
    if case == "bad-txns-balance":
        return block((transfer(node, nonce, balance),))
    if case == "bad-txns-amount":
        return block((transfer(node, nonce, 0),))
    if case == "bad-txns-fee-outofrange":
        return block((transfer(node, nonce, 1, fee=21_000_000 * 10**8 + 1),))
    if case == "bad-txns-kind":
        return block((sign_transaction(FUNDED, params.magic, 200, nonce, 1_000, b""),))
    if case == "bad-blk-length":
        count = params.max_block_size // good_tx.size + 1
        return block((good_tx,) * count)
    raise AssertionError(case)


RULES = [
    "high-hash",
    "bad-diffbits",
    "time-too-old",
    "time-too-new",
    "bad-chain-id",
    "bad-cb-missing",
    "bad-cb-multiple",
    "bad-txnmrklroot",
    "bad-txns-duplicate",
    "bad-cb-form",
    "bad-cb-height",
    "bad-cb-amount",
    "bad-txns-sig",
    "bad-txns-nonce",
    "bad-txns-balance",
    "bad-txns-amount",
    "bad-txns-fee-outofrange",
    "bad-txns-kind",
    "bad-blk-length",
]


def send_over_p2p(node, block: Block, host: str) -> list[RejectMessage]:
    """Send the block from a fresh raw peer, then a ping; the rejects seen before the pong or the close."""
    peer = RawPeer(node, host)
    try:
        peer.handshake(best_height=node.getblockcount() + 1)
        peer.send_message(BlockMessage(block))
        peer.send_message(PingMessage(99))
        frames = []
        try:
            while True:
                command, payload = peer.read_frame()
                frames.append((command, payload))
                if command == "pong" and PongMessage.deserialize(payload).nonce == 99:
                    break
        except Exception:  # the node closed the connection after its reject (a ban)
            pass
        return peer.get_rejects(frames)
    finally:
        peer.close()


@pytest.mark.parametrize("index, rule", list(enumerate(RULES)))
def test_invalid_block_is_rejected_with_its_reason(node, index, rule):
    before = snapshot(node)
    over_p2p = build(node, rule, b"p2p" + bytes([index]))
    rejects = send_over_p2p(node, over_p2p, f"127.0.{20 + index}.2")
    assert [(r.message, r.reason, r.hash) for r in rejects] == [("block", rule, over_p2p.hash)]
    assert snapshot(node) == before
    over_rpc = build(node, rule, b"rpc" + bytes([index]), later=1)
    assert over_rpc.hash != over_p2p.hash
    assert node.submitblock(over_rpc.serialize().hex()) == rule
    assert snapshot(node) == before


def test_a_valid_block_still_connects_after_the_invalid_ones(node):
    tip = tip_context(node)
    params = node.params
    block = make_block(
        tip["hash"], tip["height"] + 1, max(tip["time"], int(time.time())) + 1, params=params, extra=b"valid"
    )
    assert node.submitblock(block.serialize().hex()) is None
    assert node.getbestblockhash() == block.header.hash_hex


def test_children_of_an_invalid_block_are_bad_prevblk_and_resubmission_is_duplicate_invalid(node):
    before = snapshot(node)
    parent = build(node, "bad-cb-amount", b"bad-parent")
    assert node.submitblock(parent.serialize().hex()) == "bad-cb-amount"
    assert node.submitblock(parent.serialize().hex()) == "duplicate-invalid"
    tip = tip_context(node)
    children = [
        make_block(parent.hash, tip["height"] + 2, parent.header.time + 1, params=node.params, extra=tag)
        for tag in (b"child-p2p", b"child-rpc")
    ]
    rejects = send_over_p2p(node, children[0], "127.0.60.2")
    assert [(r.message, r.reason, r.hash) for r in rejects] == [("block", "bad-prevblk", children[0].hash)]
    assert node.submitblock(children[1].serialize().hex()) == "bad-prevblk"
    assert snapshot(node) == before
