"""Genesis blocks of hashgrad's networks, built from their parameters.

The genesis block issues nothing (supply starts at zero); its coinbase carries the hash of the
network's job definitions (so every node agrees on what work is paid) and the genesis message. The nonces of
main and test were ground once and are fixed in `params.py`; a
test checks that every genesis meets its own proof of work.
"""

from __future__ import annotations

from functools import cache

from hashgrad.chain.block import Block
from hashgrad.chain.hashes import ZERO_HASH
from hashgrad.chain.header import BlockHeader
from hashgrad.chain.jobs import compute_jobs_hash
from hashgrad.chain.merkle import compute_merkle_root
from hashgrad.chain.params import ChainParams
from hashgrad.chain.tx import ZERO_KEY, make_coinbase

BLOCK_BASE_VERSION = 1


def compute_block_version(params: ChainParams, auxpow: bool = False) -> int:
    return (params.chain_id << 16) | (0x100 if auxpow else 0) | BLOCK_BASE_VERSION


@cache
def build_genesis_block(params: ChainParams) -> Block:
    extra = compute_jobs_hash(params.jobs) + params.genesis_message
    coinbase = make_coinbase(0, ZERO_KEY, params.genesis_coinbase_amount, extra)
    root, _ = compute_merkle_root([coinbase.txid])
    header = BlockHeader(
        compute_block_version(params), ZERO_HASH, root, params.genesis_time, params.genesis_bits, params.genesis_nonce
    )
    return Block(header, (coinbase,))
