"""Merge-mining from a Bitcoin pool: the test plays the pool against real nodes over RPC.

    pool ──createauxblock/submitauxblock──> node0 ── node1 (validates every auxpow itself)

The pool takes createauxblock's hash, commits to it in a segwit Bitcoin coinbase (`fabe6d6d` | chain
Merkle root | size | nonce), alone or in a 32-leaf chain tree beside Namecoin (1) and Dogecoin (98)
at their getExpectedIndex slots, puts that coinbase first in a parent Merkle tree, grinds the parent
header until its SHA256d meets *our* target (createauxblock's `_target`) and submits the CAuxPow.
Mutated proofs (our hash in another chain's slot, a second magic) are refused with the reason in the
node's log and leave the tip alone; a branch of merge-mined blocks and one of own-PoW blocks compete
by chainwork in both directions.
"""

from __future__ import annotations

import pytest

from functional.framework import connect_nodes, new_address, sync_blocks, wait_until
from hashgrad.chain.auxpow import (
    MERGED_MINING_HEADER,
    build_aux_coinbase_script,
    build_aux_merkle_tree,
    build_auxpow,
    compute_expected_index,
    parse_auxpow,
)
from hashgrad.chain.block import parse_block
from hashgrad.chain.btc_tx import BitcoinTx, TxIn, TxOut
from hashgrad.chain.hashes import display_to_hash, hash_to_int, sha256d
from hashgrad.chain.header import BlockHeader
from hashgrad.chain.merkle import compute_merkle_branch, compute_merkle_root
from hashgrad.chain.params import HASHGRAD_CHAIN_ID, HASHGRAD_REGTEST
from hashgrad.errors import RpcError

BITCOIN_PARENT_VERSION = 0x20000000  # BIP9 top bits: the parent's "chain ID" reads 0x2000, never ours
OTHER_CHAINS = (1, 98)  # Namecoin and Dogecoin beside us in the pool's chain tree
TREE_HEIGHT = 5  # 4242 and 98 agree mod 16, so they need 32 leaves to get distinct slots
MAX_GRIND_TRIES = 100_000


class BitcoinPool:
    """What a Bitcoin pool does with createauxblock's answer: commit, build the parent, grind, serialize."""

    def __init__(self, other_chains: tuple[int, ...] = (), merkle_height: int = 0, merkle_nonce: int = 0):
        self.other_chains = other_chains
        self.merkle_height = merkle_height
        self.merkle_nonce = merkle_nonce
        self.parents_made = 0

    def mine(self, work: dict, slot_of: int | None = None, edit_script=None) -> str:
        """CAuxPow hex for createauxblock's `work`; `slot_of` files our hash under another chain ID."""
        ours = work["chainid"] if slot_of is None else slot_of
        others = {cid: sha256d(b"block of chain %d" % cid) for cid in self.other_chains}
        tree = build_aux_merkle_tree(
            {ours: display_to_hash(work["hash"]), **others}, self.merkle_height, self.merkle_nonce
        )
        script = (
            b"\x03\x40\x0d\x0d"
            + build_aux_coinbase_script(tree.root, self.merkle_height, self.merkle_nonce)
            + b"/functional-pool/"
        )
        if edit_script is not None:
            script = edit_script(script)
        coinbase = make_bitcoin_coinbase(script)
        txids = [coinbase.txid] + [sha256d(b"bitcoin tx %d" % i) for i in range(5)]
        self.parents_made += 1
        parent = BlockHeader(
            BITCOIN_PARENT_VERSION,
            sha256d(b"bitcoin tip %d" % self.parents_made),
            compute_merkle_root(txids)[0],
            1_800_000_000 + self.parents_made,
            0x17034219,
            0,
        )
        target = int.from_bytes(bytes.fromhex(work["_target"]), "little")
        parent = grind_parent(parent, target)
        auxpow = build_auxpow(
            coinbase, parent, tuple(compute_merkle_branch(txids, 0)), tree.branches[ours], tree.slots[ours]
        )
        return auxpow.serialize().hex()


def make_bitcoin_coinbase(script: bytes) -> BitcoinTx:
    """A segwit coinbase as pools make it: reserved-value witness, payout, witness commitment output."""
    coinbase_in = TxIn(b"\x00" * 32, 0xFFFFFFFF, script, 0xFFFFFFFF, (b"\x00" * 32,))
    outputs = (
        TxOut(312_500_000, b"\x00\x14" + b"\x77" * 20),
        TxOut(0, b"\x6a\x24\xaa\x21\xa9\xed" + sha256d(b"witness root")),
    )
    return BitcoinTx(2, (coinbase_in,), outputs, 0)


def grind_parent(parent: BlockHeader, target: int) -> BlockHeader:
    for nonce in range(MAX_GRIND_TRIES):
        candidate = parent.with_nonce(nonce)
        if hash_to_int(candidate.hash) <= target:
            return candidate
    raise AssertionError("no parent nonce meets the target")


def rpc_reason(call, *args) -> str:
    with pytest.raises(RpcError) as info:
        call(*args)
    return info.value.reason


def wait_for_log(node, text: str) -> None:
    wait_until(lambda: text in (node.datadir / "node.log").read_text(errors="replace"), 10, f"{text!r} in the log")


def merge_mine(node, pool: BitcoinPool, address: str) -> str:
    work = node.createauxblock(address)
    assert node.submitauxblock(work["hash"], pool.mine(work)) is True
    return work["hash"]


def test_merge_mining_from_a_bitcoin_pool(node_factory):
    _, payout = new_address(HASHGRAD_REGTEST)
    # node0 knows a payout address (getauxblock's wallet-less form); the node only takes --payout
    # together with a block-maker interval, so the interval is one that never fires in this test.
    (node0,) = node_factory(1, "--mine-interval", "100000", "--payout", payout)
    (node1,) = node_factory(1)
    node0.generate(1)  # before connecting: node1 fetches it in its handshake getheaders
    connect_nodes(node1, node0)
    sync_blocks([node0, node1])
    _, address = new_address(node0.params)

    # createauxblock: Namecoin's fields, and the same block until something changes.
    work = node0.createauxblock(address)
    gbt = node0.getblocktemplate()
    assert work["chainid"] == HASHGRAD_CHAIN_ID and work["height"] == 2
    assert work["previousblockhash"] == node0.getbestblockhash()
    assert work["bits"] == gbt["bits"] == "207fffff" and work["coinbasevalue"] == gbt["coinbasevalue"]
    assert bytes.fromhex(work["_target"])[::-1].hex() == gbt["target"]  # auxpow_mining.py's reverseHex check
    assert node0.createauxblock(address) == work
    assert node0.createauxblock(new_address(node0.params)[1])["hash"] != work["hash"]

    # Bad requests get their reason; bad proofs get false, the reason in the log, and no tip change.
    tip = node0.getbestblockhash()
    pool = BitcoinPool()
    assert rpc_reason(node0.createauxblock, "rhg1notanaddress") == "bad-address"
    assert rpc_reason(node0.submitauxblock, work["hash"], "zz") == "bad-hex"
    assert rpc_reason(node0.submitauxblock, work["hash"], "00") == "auxpow-decode-failed"
    assert rpc_reason(node0.submitauxblock, "11" * 32, pool.mine(work)) == "unknown-aux-block"
    assert rpc_reason(node1.getauxblock) == "no-payout-address"
    tree_pool = BitcoinPool(OTHER_CHAINS, TREE_HEIGHT, 0xF09F909F)
    assert node0.submitauxblock(work["hash"], tree_pool.mine(work, slot_of=4243)) is False
    wait_for_log(node0, "auxpow-wrong-index")
    assert node0.submitauxblock(work["hash"], pool.mine(work, edit_script=lambda s: s + MERGED_MINING_HEADER)) is False
    wait_for_log(node0, "auxpow-multiple-headers")
    assert node0.getbestblockhash() == tip

    # A single-chain commitment: accepted (the same hash, after the refusals), relayed, checked by node1.
    auxpow_hex = pool.mine(work)
    assert node0.submitauxblock(work["hash"], auxpow_hex) is True
    assert node0.getbestblockhash() == work["hash"]
    assert sync_blocks([node0, node1]) == work["hash"]
    shown = node1.getblock(work["hash"], 2)
    assert shown["tx"][0]["recipient"] == address
    parsed = parse_auxpow(bytes.fromhex(auxpow_hex))  # decoded as Namecoin's getblock shows it
    assert shown["auxpow"]["parentblock"]["hash"] == parsed.parent_header.hash_hex
    assert shown["auxpow"]["tx"]["txid"] == parsed.coinbase_tx.txid[::-1].hex()
    assert shown["auxpow"]["chainindex"] == parsed.chain_index and shown["auxpow"]["index"] == 0
    assert node1.getblock(work["hash"], 1)["auxpow"]["parentblock"] == parsed.parent_header.serialize().hex()
    assert "auxpow" not in node1.getblock(node1.getblockhash(1), 1)
    stored = parse_block(bytes.fromhex(node1.getblock(work["hash"], 0)), 4_000_000)
    assert stored.auxpow == parse_auxpow(bytes.fromhex(auxpow_hex))
    assert node0.submitauxblock(work["hash"], auxpow_hex) is True  # a duplicate, as ProcessNewBlock says
    assert node0.submitauxblock(work["hash"], tree_pool.mine(work, slot_of=4243)) is False  # checked even if known
    assert node0.createauxblock(address)["hash"] != work["hash"]  # the new tip made a new block...
    assert rpc_reason(node0.submitauxblock, work["hash"], auxpow_hex) == "unknown-aux-block"  # ...and forgot it

    # Inside a multi-chain tree beside Namecoin and Dogecoin, each chain at its expected slot.
    work = node0.createauxblock(address)
    slots = {
        cid: compute_expected_index(tree_pool.merkle_nonce, cid, TREE_HEIGHT)
        for cid in (HASHGRAD_CHAIN_ID, *OTHER_CHAINS)
    }
    assert len(set(slots.values())) == 3
    auxpow_hex = tree_pool.mine(work)
    proof = parse_auxpow(bytes.fromhex(auxpow_hex))
    assert len(proof.chain_branch) == TREE_HEIGHT and proof.chain_index == slots[HASHGRAD_CHAIN_ID]
    assert node0.submitauxblock(work["hash"], auxpow_hex) is True
    assert sync_blocks([node0, node1]) == work["hash"]

    # getauxblock, the wallet form: no arguments pays the node's --payout address; two arguments submit.
    work = node0.getauxblock()
    assert work["height"] == 4 and work == node0.getauxblock()
    assert rpc_reason(node0.getauxblock, work["hash"]) == "invalid-params"
    assert node0.getauxblock(work["hash"], pool.mine(work)) is True
    assert sync_blocks([node0, node1]) == work["hash"]
    assert node1.getblock(work["hash"], 2)["tx"][0]["recipient"] == payout


def partition(node0, node1) -> None:
    node1.setnetworkactive(False)
    wait_until(lambda: node0.getconnectioncount() == 0 and node1.getconnectioncount() == 0, 30, "partition")


def rejoin(node0, node1) -> None:
    node1.setnetworkactive(True)
    connect_nodes(node1, node0)


def test_auxpow_and_own_pow_branches_follow_chainwork(node_factory):
    """node0 merge-mines, node1 grinds its own blocks; both nodes always end on the most-work branch."""
    node0, node1 = node_factory(2)
    _, address = new_address(node0.params)
    pool = BitcoinPool()
    node0.generate(1)  # before connecting: node1 fetches it in its handshake getheaders
    connect_nodes(node1, node0)
    fork = sync_blocks([node0, node1])

    # One merge-mined block against two own-PoW blocks: the own-PoW branch has more work.
    partition(node0, node1)
    aux_hash = merge_mine(node0, pool, address)
    own_hashes = node1.generate(2)
    own_tip = own_hashes[-1]
    assert node0.getblock(aux_hash)["previousblockhash"] == fork == node1.getblock(own_hashes[0])["previousblockhash"]
    rejoin(node0, node1)
    assert sync_blocks([node0, node1]) == own_tip
    assert node0.getblockcount() == 3 and node0.getblock(aux_hash)["confirmations"] == -1

    # Two merge-mined blocks against one own-PoW block: the merge-mined branch wins back.
    partition(node0, node1)
    losing_own = node1.generate(1)[0]
    aux_hashes = [merge_mine(node0, pool, address) for _ in range(2)]
    rejoin(node0, node1)
    assert sync_blocks([node0, node1]) == aux_hashes[-1]
    assert node1.getblockcount() == 5 and node1.getblock(losing_own)["confirmations"] == -1
    for aux in aux_hashes:  # node1 stored and connected them after checking each auxpow itself
        shown = node1.getblock(aux)
        assert shown["auxpow"]["parentblock"] and shown["confirmations"] > 0
    assert node1.getblockchaininfo()["chainwork"] == node0.getblockchaininfo()["chainwork"]
