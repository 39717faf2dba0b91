"""Builders for the ledger tests: deterministic keys, signed transfers, ground regtest blocks,
and exact dumps of a chainstate's tables for comparing a state against a replay from genesis.

Everything here goes through the real rules (`chain.validation`, `store.chainstate`); a helper only
chooses the inputs (time, bits, coinbase amount...) so a test can break exactly one rule at a time.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from hashgrad.chain.block import Block
from hashgrad.chain.genesis import compute_block_version
from hashgrad.chain.header import BlockHeader
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.merkle import compute_merkle_root
from hashgrad.chain.params import HASHGRAD_REGTEST, ChainParams
from hashgrad.chain.pow import is_valid_proof_of_work
from hashgrad.chain.subsidy import compute_block_subsidy, compute_subsidy_split
from hashgrad.chain.tx import Transaction, TransferPayload, TxKind, make_coinbase, sign_transaction
from hashgrad.store.chainstate import ChainState

PARAMS = HASHGRAD_REGTEST
NOW = PARAMS.genesis_time + 10_000_000  # the tests' clock: far past every block time they make
BLOCK_SPACING = 60
FEE = 1_000  # above the default relay minimum (1 unit/byte) for a 155-byte transfer
AUX_RAND = b"\x00" * 32  # deterministic BIP340 signatures, so blocks and txids are reproducible


def make_key(index: int) -> SigningKey:
    return SigningKey(hashlib.sha256(b"hashgrad test key %d" % index).digest())


ALICE = make_key(1)
BOB = make_key(2)
CAROL = make_key(3)


def make_transfer(
    key: SigningKey, nonce: int, recipient: bytes, amount: int, fee: int = FEE, magic: bytes = PARAMS.magic
) -> Transaction:
    payload = TransferPayload(recipient, amount).serialize()
    return sign_transaction(key, magic, TxKind.TRANSFER, nonce, fee, payload, AUX_RAND)


def compute_maker_reward(params: ChainParams, height: int) -> int:
    subsidy = compute_block_subsidy(height, params.initial_subsidy, params.subsidy_halving_interval)
    return compute_subsidy_split(subsidy, params.block_maker_share_bps, params.job_shares_bps)[0]


def grind_header(header: BlockHeader, pow_limit: int, want_valid: bool = True) -> BlockHeader:
    """The header with the first nonce whose proof of work is valid (or, on request, invalid)."""
    for nonce in range(1 << 32):
        candidate = header.with_nonce(nonce)
        if is_valid_proof_of_work(candidate.hash, candidate.bits, pow_limit) == want_valid:
            return candidate
    raise RuntimeError("nonce space exhausted")


def make_block(
    parent_hash: bytes,
    height: int,
    time: int,
    txs=(),
    payout: bytes = b"\x02" * 32,
    params: ChainParams = PARAMS,
    *,
    coinbase: Transaction | None = None,
    bits: int | None = None,
    version: int | None = None,
    merkle_root: bytes | None = None,
    extra: bytes = b"",
    valid_pow: bool = True,
    with_coinbase: bool = True,
) -> Block:
    """A block over (coinbase, *txs); by default every field is right, so each keyword breaks one rule."""
    if coinbase is None:
        amount = compute_maker_reward(params, height) + sum(tx.fee for tx in txs)
        coinbase = make_coinbase(height, payout, amount, extra)
    all_txs = (coinbase, *txs) if with_coinbase else tuple(txs)
    root = merkle_root if merkle_root is not None else compute_merkle_root([tx.txid for tx in all_txs])[0]
    header = BlockHeader(
        compute_block_version(params) if version is None else version,
        parent_hash,
        root,
        time,
        params.genesis_bits if bits is None else bits,
        0,
    )
    return Block(grind_header(header, params.pow.pow_limit, valid_pow), all_txs)


def make_child(chainstate: ChainState, txs=(), parent_hash: bytes | None = None, **kwargs) -> Block:
    """A block on `parent_hash` (default: the tip) with the right height and a later time."""
    parent = chainstate.index[parent_hash or chainstate.tip.hash]
    kwargs.setdefault("params", chainstate.params)
    time = kwargs.pop("time", parent.time + BLOCK_SPACING)
    return make_block(parent.hash, parent.height + 1, time, txs, **kwargs)


def mine(chainstate: ChainState, txs=(), **kwargs) -> Block:
    """Make a valid child of the tip and connect it; returns the block."""
    block = make_child(chainstate, txs, **kwargs)
    result = chainstate.accept_block(block, NOW)
    if result.status != "connected":
        raise RuntimeError(f"block did not connect: {result.status}")
    return block


def with_params(**changes) -> ChainParams:
    """Regtest with some parameters changed (same genesis, so the same chain)."""
    return replace(PARAMS, **changes)


def dump_table(chainstate: ChainState, table: str) -> list[tuple]:
    return list(chainstate.db.execute(f"SELECT * FROM {table} ORDER BY 1, 2"))


def dump_state(chainstate: ChainState) -> dict[bytes, bytes]:
    return dict(chainstate.db.execute("SELECT key, value FROM state ORDER BY key"))


INDEX_TABLES = ("tx_index", "address_index", "active_chain", "meta")


def dump_all(chainstate: ChainState) -> dict:
    """Everything a connect may touch: the state and the indexes of the active chain."""
    return {"state": dump_state(chainstate), **{t: dump_table(chainstate, t) for t in INDEX_TABLES}}


def replay_active_chain(source: ChainState, datadir: Path) -> ChainState:
    """A fresh chainstate in `datadir` fed the source's active chain from genesis, in order."""
    replay = ChainState(source.params, datadir)
    for block_hash in source.active[1:]:
        result = replay.accept_block(source.get_block(block_hash), None)
        if result.status != "connected":
            raise RuntimeError(f"replay did not connect a block: {result.status}")
    return replay
