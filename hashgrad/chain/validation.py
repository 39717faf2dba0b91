"""The state transition of hashgrad's ledger, as a checklist of named rules.

    check_header_proof      context-free: chain ID, own proof of work or an AuxPoW proof
    check_header_context    difficulty (bad-diffbits), median-time-past and the 2-hour future limit
    check_block_body        size, coinbase placement, Merkle root and CVE-2012-2459 mutation,
                            every transaction well formed and signed (signatures optionally
                            spread over the caller's threads, results taken in block order)
    apply_block             apply every transaction, pay the block maker, accrue the pools, and at a
                            job's epoch end run its consensus and emission (`epoch.py`)

Each rule raises a ConsensusError subclass whose reason is Bitcoin Core's code where one exists.
Rules are pure: state changes go into a StateOverlay that the caller commits or drops; an executor,
where one is passed, is the caller's and only runs pure checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from itertools import chain, repeat

from hashgrad.chain.auxpow import check_auxpow_block_proof
from hashgrad.chain.block import Block
from hashgrad.chain.coordination_rules import COORD_APPLIERS
from hashgrad.chain.epoch import process_epochs
from hashgrad.chain.header import BlockHeader
from hashgrad.chain.keys import is_valid_pubkey
from hashgrad.chain.params import MAX_MONEY, ChainParams
from hashgrad.chain.pow import check_proof_of_work
from hashgrad.chain.state import StateOverlay, get_account, get_pool, get_supply, put_account, put_pool, put_supply
from hashgrad.chain.subsidy import compute_block_subsidy, compute_subsidy_split
from hashgrad.chain.timing import check_header_time
from hashgrad.chain.tx import (
    TX_VERSION,
    ZERO_KEY,
    ZERO_SIG,
    CoinbasePayload,
    Transaction,
    TransferPayload,
    TxKind,
    decode_payload,
    is_valid_signature,
)
from hashgrad.errors import BlockError, HashgradError, HeaderError, TxError

PARALLEL_MIN_TXS = 512  # smaller blocks check their signatures in line: handing out chunks costs more
SIGNATURE_CHUNK = 256  # transactions per task when an executor spreads the signature checks


@dataclass(frozen=True)
class HeaderContext:
    """What the chain says about the slot a header fills: computed by the caller from the parent."""

    height: int
    expected_bits: int
    median_time_past: int
    now: int | None


@dataclass(frozen=True)
class BlockEffects:
    height: int
    subsidy: int
    fees: int
    maker_reward: int


def check_header_proof(params: ChainParams, header: BlockHeader, auxpow) -> None:
    if header.chain_id != params.chain_id:
        raise HeaderError("bad-chain-id", f"chain ID {header.chain_id} is not {params.chain_id}")
    if header.is_auxpow():
        if auxpow is None:
            raise HeaderError("auxpow-missing", "auxpow flag set but no proof")

        check_auxpow_block_proof(header, auxpow, params)
        return
    if auxpow is not None:
        raise HeaderError("auxpow-unexpected", "proof carried by a block without the auxpow flag")
    check_proof_of_work(header.hash, header.bits, params.pow.pow_limit)


def check_header_context(params: ChainParams, header: BlockHeader, ctx: HeaderContext) -> None:
    if header.is_auxpow() and (params.auxpow_start_height is None or ctx.height < params.auxpow_start_height):
        raise HeaderError("auxpow-before-start", f"merged mining starts at {params.auxpow_start_height}")
    if not header.is_auxpow() and not params.allow_own_pow:
        raise HeaderError("own-pow-not-allowed", "this network takes merge-mined blocks only")
    if header.bits != ctx.expected_bits:
        raise HeaderError("bad-diffbits", f"0x{header.bits:08x} != expected 0x{ctx.expected_bits:08x}")
    check_header_time(header.time, ctx.median_time_past, ctx.now)


def check_block_body(params: ChainParams, block: Block, executor: Executor | None = None) -> None:
    """Context-free body rules; `executor` (the caller's threads) only spreads the signature checks,
    the first failing transaction and its reason stay what a check in block order finds."""
    if block.size > params.max_block_size:
        raise BlockError("bad-blk-length", f"{block.size} bytes over {params.max_block_size}")
    if not block.txs or not block.txs[0].is_coinbase():
        raise BlockError("bad-cb-missing", "first transaction is not a coinbase")
    if any(tx.is_coinbase() for tx in block.txs[1:]):
        raise BlockError("bad-cb-multiple", "more than one coinbase")
    root, mutated = block.compute_merkle_root()
    if root != block.header.merkle_root:
        raise BlockError("bad-txnmrklroot", "hashMerkleRoot mismatch")
    if mutated:
        raise BlockError("bad-txns-duplicate", "duplicate transaction")
    check_coinbase_form(block.txs[0])
    txs = block.txs[1:]
    for tx, signature_valid in zip(txs, compute_signatures_valid(params.magic, txs, executor)):
        check_transaction(params, tx, signature_valid)


def compute_signatures_valid(
    magic: bytes, txs: Sequence[Transaction], executor: Executor | None = None
) -> Iterator[bool]:
    """Whether each transaction's signature verifies, in order. Without an executor (or for a small
    block) lazily, one at a time as the caller walks the block; with one, in chunks across its threads
    (libsecp256k1 runs without the GIL), results still handed over in block order."""
    if executor is None or len(txs) < PARALLEL_MIN_TXS:
        return (is_valid_signature(tx, magic) for tx in txs)
    chunks = [txs[start : start + SIGNATURE_CHUNK] for start in range(0, len(txs), SIGNATURE_CHUNK)]
    return chain.from_iterable(executor.map(_compute_chunk_signatures_valid, chunks, repeat(magic)))


def _compute_chunk_signatures_valid(txs: Sequence[Transaction], magic: bytes) -> list[bool]:
    return [is_valid_signature(tx, magic) for tx in txs]


def check_coinbase_form(tx: Transaction) -> None:
    if tx.version != TX_VERSION or tx.sender != ZERO_KEY or tx.fee != 0 or tx.signature != ZERO_SIG:
        raise BlockError("bad-cb-form", "coinbase needs version 1, zero sender, fee and signature")
    decode_payload(tx)


def check_transaction(params: ChainParams, tx: Transaction, signature_valid: bool | None = None) -> None:
    """Context-free checks of a non-coinbase transaction, the signature included (`signature_valid`:
    its verification when the caller has already run it, see compute_signatures_valid)."""
    if tx.version != TX_VERSION:
        raise TxError("bad-txns-version", f"version {tx.version}")
    if tx.size > params.max_tx_size:
        raise TxError("bad-txns-oversize", f"{tx.size} bytes")
    if tx.fee > MAX_MONEY:
        raise TxError("bad-txns-fee-outofrange", "fee above the money supply")
    if tx.kind not in TX_APPLIERS:
        raise TxError("bad-txns-kind", f"unknown transaction kind {tx.kind}")
    decode_payload(tx)
    if signature_valid is None:
        signature_valid = is_valid_signature(tx, params.magic)
    if not signature_valid:
        raise TxError("bad-txns-sig", "signature does not verify")


def apply_block(params: ChainParams, state: StateOverlay, block: Block, height: int) -> BlockEffects:
    """Apply a body already passed by check_block_body: transactions, then rewards."""
    coinbase = block.txs[0]
    if coinbase.nonce != height:
        raise BlockError("bad-cb-height", f"coinbase height {coinbase.nonce} != {height}")
    fees = sum(apply_transaction(params, state, tx, height) for tx in block.txs[1:])
    effects = pay_block_rewards(params, state, decode_payload(coinbase), height, fees)
    process_epochs(params, state, height)
    return effects


def apply_transaction(params: ChainParams, state: StateOverlay, tx: Transaction, height: int) -> int:
    """Apply one checked transaction in a block at `height`; returns its fee."""
    sender = get_account(state, tx.sender)
    if tx.nonce != sender.nonce:
        raise TxError("bad-txns-nonce", f"nonce {tx.nonce}, account expects {sender.nonce}")
    if sender.balance < tx.fee:
        raise TxError("bad-txns-balance", "balance does not cover the fee")
    put_account(state, tx.sender, type(sender)(sender.balance - tx.fee, sender.nonce + 1))
    TX_APPLIERS[tx.kind](params, state, tx, decode_payload(tx), height)
    return tx.fee


def apply_transfer(
    params: ChainParams, state: StateOverlay, tx: Transaction, payload: TransferPayload, height: int
) -> None:
    if payload.amount <= 0 or payload.amount > MAX_MONEY:
        raise TxError("bad-txns-amount", f"amount {payload.amount}")
    if not is_valid_pubkey(payload.recipient):
        raise TxError("bad-txns-recipient", "recipient is not a valid public key")
    sender = get_account(state, tx.sender)
    if sender.balance < payload.amount:
        raise TxError("bad-txns-balance", "balance does not cover amount and fee")
    put_account(state, tx.sender, type(sender)(sender.balance - payload.amount, sender.nonce))
    recipient = get_account(state, payload.recipient)
    put_account(state, payload.recipient, type(recipient)(recipient.balance + payload.amount, recipient.nonce))


def pay_block_rewards(
    params: ChainParams, state: StateOverlay, coinbase: CoinbasePayload, height: int, fees: int
) -> BlockEffects:
    subsidy = compute_block_subsidy(height, params.initial_subsidy, params.subsidy_halving_interval)
    maker, pools = compute_subsidy_split(subsidy, params.block_maker_share_bps, params.job_shares_bps)
    if coinbase.amount != maker + fees:
        raise BlockError("bad-cb-amount", f"coinbase pays {coinbase.amount}, expected {maker + fees}")
    if coinbase.amount:
        account = get_account(state, coinbase.recipient)
        put_account(state, coinbase.recipient, type(account)(account.balance + coinbase.amount, account.nonce))
    for job_id, amount in pools.items():
        put_pool(state, job_id, get_pool(state, job_id) + amount)
    supply = get_supply(state)
    put_supply(state, type(supply)(supply.issued + subsidy, supply.burned))
    return BlockEffects(height, subsidy, fees, maker)


# Appliers by transaction kind; the incentive layer registers its coordination kinds here.
TX_APPLIERS: dict[int, Callable] = {TxKind.TRANSFER: apply_transfer, **COORD_APPLIERS}


def is_mutation_error(exc: HashgradError) -> bool:
    """Errors that a relayer could cause by mutating an honest block without changing its hash."""
    return exc.reason in ("bad-txnmrklroot", "bad-txns-duplicate", "bad-blk-length", "bad-encoding")
