"""The small pieces of the P2P layer: locators, the block downloader, bans, the address book, scores."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from p2p_helpers import REGTEST

from hashgrad.chain.block import Block
from hashgrad.chain.btc_tx import TxOut
from hashgrad.chain.genesis import compute_block_version
from hashgrad.chain.merkle import compute_root_from_branch
from hashgrad.chain.validation import check_header_proof
from hashgrad.errors import ConsensusError, DecodeError, HeaderError, MempoolError, StoreError, TxError
from hashgrad.node.ledger import Ledger
from hashgrad.p2p.addrbook import AddrBook
from hashgrad.p2p.banlist import BanList
from hashgrad.p2p.download import BlockDownloader
from hashgrad.p2p.locator import (
    compute_locator_heights,
    find_fork_height,
    find_headers_after_locator,
    get_block_locator,
    get_headers_entry,
)
from hashgrad.p2p.messages import HeadersMessage
from hashgrad.p2p.misbehaviour import compute_block_score, compute_protocol_score, compute_tx_score
from support.auxpow import build_pool_auxpow, grind_header
from support.ledger import NOW, make_child, mine


class Clock:
    def __init__(self, now: float = 1_800_000_000):
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- locators
def test_locator_heights_dense_then_exponential():
    assert compute_locator_heights(0) == [0]
    assert compute_locator_heights(5) == [5, 4, 3, 2, 1, 0]
    heights = compute_locator_heights(1000)
    assert heights[:10] == list(range(1000, 990, -1))
    assert heights[10:14] == [989, 985, 977, 961]  # steps 2, 4, 8, 16 after the first ten
    assert heights[-1] == 0 and len(heights) <= 101
    assert len(compute_locator_heights(2**40)) <= 101


def test_locator_and_headers_after_it_on_a_real_chain(tmp_path):
    key = b"\x02" * 32
    ledger = Ledger(REGTEST, tmp_path / "a")
    other = Ledger(REGTEST, tmp_path / "b")
    try:
        from hashgrad.chain.keys import SigningKey

        payout = SigningKey(key).pubkey
        ledger.generate(30, payout)
        chain = ledger.chainstate
        locator = get_block_locator(chain)
        assert locator[0] == chain.tip.hash and locator[-1] == chain.active[0]
        # A peer that has our first 12 blocks gets headers 13..30.
        other_locator = [chain.active[h] for h in (12, 11, 10, 0)]
        headers = find_headers_after_locator(chain, other_locator)
        assert all(h == chain.get_block_bytes(chain.active[13 + i])[:80] for i, h in enumerate(headers))
        assert len(headers) == 18 and all(len(h) == 80 for h in headers)
        assert find_headers_after_locator(chain, other_locator, stop_hash=chain.active[15]) == headers[:3]
        assert len(find_headers_after_locator(chain, other_locator, limit=5)) == 5
        # An unknown locator (another chain's blocks only) starts after genesis.
        other.generate(3, SigningKey(b"\x03" * 32).pubkey)  # another payout: other blocks
        assert find_fork_height(chain, get_block_locator(other.chainstate)) == 0
        assert len(find_headers_after_locator(chain, [b"\x09" * 32])) == 30
        assert get_block_locator(chain, b"\x07" * 32)[0] == b"\x07" * 32
    finally:
        ledger.close()
        other.close()


# ---------------------------------------------------------------- downloads
def test_downloader_windows_and_single_flight():
    clock = Clock(0.0)
    downloader = BlockDownloader(window=3, clock=clock)
    hashes = [bytes([i]) * 32 for i in range(8)]
    assert downloader.add_wanted("a", hashes) == 8
    assert downloader.add_wanted("a", hashes[:2]) == 0
    downloader.add_wanted("b", hashes)
    have = {hashes[1]}
    first = downloader.take_requests("a", lambda h: h not in have)
    assert first == [hashes[0], hashes[2], hashes[3]]
    assert downloader.take_requests("a", lambda h: True) == []  # window full
    assert downloader.take_requests("b", lambda h: h not in have) == [hashes[4], hashes[5], hashes[6]]  # not a's
    assert downloader.mark_received(hashes[0]) == "a"
    assert downloader.mark_received(b"\xee" * 32) is None
    assert downloader.take_requests("a", lambda h: True) == [hashes[7]]
    downloader.mark_not_found("b", [hashes[4], hashes[2]])  # only b's own flights are released
    assert not downloader.is_in_flight(hashes[4]) and downloader.is_in_flight(hashes[2])
    clock.now = 100.0
    assert downloader.find_stalled(60) == ["a", "b"]
    assert sorted(downloader.remove_peer("a")) == sorted([hashes[2], hashes[3], hashes[7]])
    assert downloader.count_in_flight("a") == 0 and downloader.find_stalled(60) == ["b"]


# ---------------------------------------------------------------- bans
def test_banlist_bans_expire_and_persist(tmp_path):
    clock = Clock()
    bans = BanList(tmp_path / "banlist.json", clock)
    bans.ban("127.0.0.2", 100, "bad-magic")
    bans.ban("::ffff:10.0.0.1", 1000, "high-hash")
    assert bans.is_banned("127.0.0.2") and bans.is_banned("10.0.0.1") and not bans.is_banned("127.0.0.1")
    listed = bans.list_banned()
    assert [b["address"] for b in listed] == ["127.0.0.2", "10.0.0.1"]
    assert listed[0]["ban_reason"] == "bad-magic" and listed[0]["time_remaining"] == 100
    reloaded = BanList(tmp_path / "banlist.json", clock)
    reloaded.load()
    assert reloaded.is_banned("127.0.0.2")
    clock.now += 101
    assert not reloaded.is_banned("127.0.0.2") and reloaded.is_banned("10.0.0.1")
    assert reloaded.unban("10.0.0.1") and not reloaded.unban("10.0.0.1")
    assert reloaded.list_banned() == []


def test_banlist_load_skips_malformed_and_expired_entries(tmp_path):
    clock = Clock()
    path = tmp_path / "banlist.json"
    path.write_text(
        json.dumps(
            {
                "banned": [
                    {"host": "10.0.0.5", "created": 1, "until": int(clock.now) + 50, "reason": "x"},
                    {"host": "10.0.0.6", "created": 1, "until": int(clock.now) - 1, "reason": "expired"},
                    {"host": "10.0.0.7", "created": "1", "until": 2, "reason": "bad types"},
                    ["not", "an", "object"],
                    {"host": ""},
                ]
            }
        )
    )
    bans = BanList(path, clock)
    bans.load()
    assert [b["address"] for b in bans.list_banned()] == ["10.0.0.5"]
    path.write_text("{not json")
    broken = BanList(path, clock)
    broken.load()
    assert broken.list_banned() == []


# ---------------------------------------------------------------- addresses
def test_addrbook_validates_and_persists(tmp_path):
    clock = Clock()
    book = AddrBook(tmp_path / "peers.json", clock, max_entries=3)
    assert book.add("127.0.0.1", 29444)
    assert book.add("::ffff:10.0.0.2", 29444, last_seen=int(clock.now) + 10_000)  # future time clamped
    for host, port in [("0.0.0.0", 1), ("224.0.0.1", 1), ("10.0.0.3", 0), ("10.0.0.3", 70000), ("example.com", 1)]:
        assert not book.add(host, port)
    assert ("10.0.0.2", 29444) in book and len(book) == 2
    book.add("10.0.0.4", 1, last_seen=5)
    book.add("10.0.0.5", 1)  # over max_entries: the least recently seen (10.0.0.4) goes
    assert ("10.0.0.4", 1) not in book and len(book) == 3
    book.save()
    path = tmp_path / "peers.json"
    data = json.loads(path.read_text())
    data["addresses"].append({"host": "999.1.1.1", "port": 5})
    data["addresses"].append({"host": "10.0.0.9", "port": "5"})
    path.write_text(json.dumps(data))
    loaded = AddrBook(path, clock)
    loaded.load()
    assert sorted(loaded.entries) == [("10.0.0.2", 29444), ("10.0.0.5", 1), ("127.0.0.1", 29444)]
    assert [a.key for a in loaded.select_candidates({("127.0.0.1", 29444)}, 5)] == [
        ("10.0.0.2", 29444),
        ("10.0.0.5", 1),
    ]
    assert len(loaded.get_addr_entries(2)) == 2


# ---------------------------------------------------------------- misbehaviour
def test_misbehaviour_scores():
    assert compute_protocol_score("bad-magic") == 100
    assert compute_protocol_score("oversized-message") == 100
    assert compute_protocol_score("unknown-command") == 1
    assert compute_protocol_score("wrong-genesis") == 0
    assert compute_block_score(HeaderError("high-hash")) == 100
    assert compute_block_score(TxError("bad-txns-sig")) == 100
    assert compute_block_score(ConsensusError("bad-txnmrklroot")) == 100
    assert compute_block_score(DecodeError("bad-encoding")) == 100
    assert compute_block_score(HeaderError("time-too-new")) == 0
    assert compute_block_score(ConsensusError("duplicate-invalid", "bad-txns-sig")) == 100
    assert compute_block_score(ConsensusError("duplicate-invalid", "bad-fork-too-deep")) == 0
    assert compute_block_score(StoreError("missing-undo")) == 0  # our own failure, not the peer's
    assert compute_tx_score(TxError("bad-txns-sig")) == 100
    assert compute_tx_score(TxError("bad-txns-nonce")) == 0  # a relay race, not a lie
    assert compute_tx_score(MempoolError("min-relay-fee-not-met")) == 1
    assert compute_tx_score(MempoolError("txn-already-in-mempool")) == 0


@pytest.mark.parametrize("reason", ["bad-checksum", "bad-payload", "bad-command", "bad-artifact-hash"])
def test_garbage_scores_a_ban(reason):
    assert compute_protocol_score(reason) >= 100


def test_headers_after_locator_carry_the_stored_auxpow_of_merge_mined_blocks(chainstate):
    """The node answering getheaders sends each merge-mined header with the proof stored in its block
    (a usual proof from the first short read, a 6 kB one from the second), plain headers as 80 bytes."""

    def big(auxpow):  # a pool coinbase with a 6 kB output: root recomputed, parent ground again
        coinbase = replace(auxpow.coinbase_tx, outputs=auxpow.coinbase_tx.outputs + (TxOut(0, b"\x6a" * 6000),))
        root = compute_root_from_branch(coinbase.txid, list(auxpow.coinbase_branch), 0)
        parent = grind_header(replace(auxpow.parent_header, merkle_root=root), REGTEST.genesis_bits)
        return replace(auxpow, coinbase_tx=coinbase, parent_header=parent)

    mine(chainstate)
    proofs = []
    for make_proof in (build_pool_auxpow, lambda header: big(build_pool_auxpow(header))):
        block = make_child(chainstate, version=compute_block_version(REGTEST, auxpow=True))
        proof = make_proof(block.header)
        assert chainstate.accept_block(Block(block.header, block.txs, proof), NOW).status == "connected"
        proofs.append(proof)
    mine(chainstate)
    entries = find_headers_after_locator(chainstate, [chainstate.active[0]])
    assert [len(e) for e in (entries[0], entries[3])] == [80, 80]
    assert len(proofs[0].serialize()) < 4096 < len(proofs[1].serialize())
    for entry, proof in zip(entries[1:3], proofs):
        assert entry == chainstate.get_block_bytes(chainstate.active[entries.index(entry) + 1])[:80] + proof.serialize()
    message = HeadersMessage.deserialize(bytes([len(entries)]) + b"".join(entries))
    assert message.auxpows == (None, *proofs, None)
    for header, auxpow in zip(message.headers, message.auxpows):
        check_header_proof(REGTEST, header, auxpow)
    assert get_headers_entry(chainstate, b"\x05" * 32) is None
