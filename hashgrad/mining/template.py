"""Block templates: the next block's header fields, coinbase and transactions chosen by fee rate.

Pure given its inputs (tip entry's context, chosen transactions, clock value), so a template can be
rebuilt and checked anywhere; the node supplies the mempool's selection and the time.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashgrad.chain.block import Block
from hashgrad.chain.encoding import encode_compact_size
from hashgrad.chain.genesis import compute_block_version
from hashgrad.chain.header import HEADER_SIZE, BlockHeader
from hashgrad.chain.merkle import compute_merkle_root
from hashgrad.chain.params import ChainParams
from hashgrad.chain.subsidy import compute_block_subsidy, compute_subsidy_split
from hashgrad.chain.tx import Transaction, make_coinbase
from hashgrad.chain.validation import HeaderContext

COINBASE_RESERVE = 256  # bytes kept free for the coinbase and the count prefix


@dataclass(frozen=True)
class BlockTemplate:
    height: int
    prev_hash: bytes
    bits: int
    time: int
    coinbase_value: int
    txs: tuple[Transaction, ...]

    def build_block(
        self, params: ChainParams, payout: bytes, extra: bytes = b"", nonce: int = 0, auxpow: bool = False
    ) -> Block:
        coinbase = make_coinbase(self.height, payout, self.coinbase_value, extra)
        txs = (coinbase, *self.txs)
        root, _ = compute_merkle_root([tx.txid for tx in txs])
        header = BlockHeader(compute_block_version(params, auxpow), self.prev_hash, root, self.time, self.bits, nonce)
        return Block(header, txs)


def compute_block_template(
    params: ChainParams, prev_hash: bytes, ctx: HeaderContext, now: int, candidates: list[Transaction]
) -> BlockTemplate:
    """Take candidates in the given (fee-rate, nonce-valid) order while they fit in the block."""
    budget = params.max_block_size - HEADER_SIZE - COINBASE_RESERVE
    chosen = []
    for tx in candidates:
        if tx.size > budget:
            continue
        chosen.append(tx)
        budget -= tx.size
    budget -= len(encode_compact_size(len(chosen) + 1))
    fees = sum(tx.fee for tx in chosen)
    subsidy = compute_block_subsidy(ctx.height, params.initial_subsidy, params.subsidy_halving_interval)
    maker, _ = compute_subsidy_split(subsidy, params.block_maker_share_bps, params.job_shares_bps)
    block_time = max(now, ctx.median_time_past + 1)
    return BlockTemplate(ctx.height, prev_hash, ctx.expected_bits, block_time, maker + fees, tuple(chosen))
