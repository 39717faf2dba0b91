"""Shared pieces of the AuxPoW tests: the real samples, and a small Bitcoin pool that merge-mines us.

The pool builds what a real one does: a segwit-style Bitcoin coinbase whose scriptSig carries the
`fabe6d6d` commitment to a chain Merkle tree (our block hash at getExpectedIndex's slot, other chains
beside it), a parent Merkle tree with other transactions, and a parent header ground until its
SHA256d meets our (easy) target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache

from data_files import read_json
from hashgrad.chain.auxpow import AuxPow, build_aux_coinbase_script, build_aux_merkle_tree, build_auxpow
from hashgrad.chain.btc_tx import BitcoinTx, TxIn, TxOut
from hashgrad.chain.hashes import hash_to_int, sha256
from hashgrad.chain.header import VERSION_AUXPOW, BlockHeader
from hashgrad.chain.merkle import compute_merkle_branch, compute_merkle_root, compute_root_from_branch
from hashgrad.chain.params import HASHGRAD_CHAIN_ID
from hashgrad.chain.pow import compute_target

EASY_BITS = 0x1F0FFFFF  # target 0x0fffff * 2^224: about one SHA256d in 4096 meets it
BITCOIN_PARENT_VERSION = 0x20000000  # a BIP9-style parent: its "chain ID" reads 0x2000
MAX_TARGET = (1 << 256) - 1


@lru_cache(maxsize=1)
def load_samples() -> dict[str, dict]:
    """The real samples (tests/data/auxpow_real_blocks.json) by name."""
    data = read_json("auxpow_real_blocks.json")
    return {entry["name"]: entry for entry in data["entries"]}


def sample_parts(name: str) -> tuple[bytes, bytes | None]:
    """(80-byte header, CAuxPow bytes or None) of a real sample that carries a header."""
    entry = load_samples()[name]
    raw = bytes.fromhex(entry["hex"])
    if "auxpow_length" not in entry:
        return raw[:80], None
    return raw[:80], raw[80 : 80 + entry["auxpow_length"]]


def header_samples() -> list[str]:
    return [name for name, entry in load_samples().items() if "header80" in entry]


def make_child_header(
    chain_id: int = HASHGRAD_CHAIN_ID, bits: int = EASY_BITS, auxpow_flag: bool = True, tag: bytes = b"child"
) -> BlockHeader:
    version = (chain_id << 16) | (VERSION_AUXPOW if auxpow_flag else 0) | 1
    return BlockHeader(version, sha256(tag + b"prev"), sha256(tag + b"root"), 1_800_000_000, bits, 0)


def grind_header(header: BlockHeader, bits: int, max_tries: int = 1_000_000) -> BlockHeader:
    """The header with the first nonce whose SHA256d meets the target of `bits`."""
    target = compute_target(bits, MAX_TARGET)
    for nonce in range(max_tries):
        candidate = header.with_nonce(nonce)
        if hash_to_int(candidate.hash) <= target:
            return candidate
    raise RuntimeError("no nonce found")


def build_pool_auxpow(
    child: BlockHeader,
    others: dict[int, bytes] | None = None,
    merkle_height: int = 0,
    nonce: int = 0,
    slot_of: int | None = None,
    parent_version: int = BITCOIN_PARENT_VERSION,
    edit_script: Callable[[bytes], bytes] | None = None,
    other_txs: int = 3,
    grind: bool = True,
) -> AuxPow:
    """An auxpow for `child` as a pool makes it; `slot_of` puts our hash in another chain ID's slot."""
    ours = child.chain_id if slot_of is None else slot_of
    tree = build_aux_merkle_tree({ours: child.hash, **(others or {})}, merkle_height, nonce)
    script = b"\x03\x40\x0d\x0d" + build_aux_coinbase_script(tree.root, merkle_height, nonce) + b"/pool/"
    if edit_script is not None:
        script = edit_script(script)
    coinbase = BitcoinTx(
        2,
        (TxIn(b"\x00" * 32, 0xFFFFFFFF, script, 0xFFFFFFFF, (b"\x00" * 32,)),),
        (TxOut(625_000_000, b"\x51"), TxOut(0, b"\x6a\x24\xaa\x21\xa9\xed" + b"\x11" * 32)),
        0,
    )
    txids = [coinbase.txid] + [sha256(b"tx%d" % i) for i in range(other_txs)]
    parent = BlockHeader(
        parent_version, sha256(b"btc-prev"), compute_merkle_root(txids)[0], 1_800_000_100, 0x17034219, 0
    )
    if grind:
        parent = grind_header(parent, child.bits)
    return build_auxpow(coinbase, parent, tuple(compute_merkle_branch(txids, 0)), tree.branches[ours], tree.slots[ours])


def with_script(auxpow: AuxPow, script: bytes) -> AuxPow:
    """The auxpow with a new coinbase scriptSig and the parent Merkle root recomputed to match.

    The parent hash changes, so its PoW no longer holds: test such auxpows with check_auxpow.
    """
    first = auxpow.coinbase_tx.inputs[0]
    coinbase = replace(auxpow.coinbase_tx, inputs=(replace(first, script_sig=script),) + auxpow.coinbase_tx.inputs[1:])
    root = compute_root_from_branch(coinbase.txid, list(auxpow.coinbase_branch), 0)
    return replace(auxpow, coinbase_tx=coinbase, parent_header=replace(auxpow.parent_header, merkle_root=root))


def script_of(auxpow: AuxPow) -> bytes:
    return auxpow.coinbase_tx.inputs[0].script_sig
