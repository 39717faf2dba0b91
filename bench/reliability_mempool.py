"""Reliability bench, part: block connect with a full mempool against the same connect with an empty one.

Two real ledgers (SQLite chainstate + mempool) are fed the same blocks. `full` holds a mempool filled
to its byte limit by many senders with pending chains whose fees fall with the nonce, so a full block
template takes a few transactions from *every* sender and every pending chain is touched by the block;
`empty` holds none. Each round a full block is made from `full`'s template and connected to both; the
time is accept + mempool update (what `Ledger.submit_block` holds its lock for). The ratio is the
median over rounds (goal <= 2).
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from pathlib import Path

from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import HASHGRAD_REGTEST
from hashgrad.chain.tx import TransferPayload, TxKind, sign_transaction
from hashgrad.mining.grind import grind_block
from hashgrad.node.ledger import Ledger

PARAMS = HASHGRAD_REGTEST
FEE = 1_000


def make_key(index: int) -> SigningKey:
    return SigningKey(hashlib.sha256(b"bench mempool key %d" % index).digest())


def make_transfer(key: SigningKey, nonce: int, recipient: bytes, amount: int, fee: int):
    payload = TransferPayload(recipient, amount).serialize()
    return sign_transaction(key, PARAMS.magic, TxKind.TRANSFER, nonce, fee, payload, b"\x00" * 32)


def connect_both(ledgers: list[Ledger], block) -> list[float]:
    times = []
    for ledger in ledgers:
        start = time.perf_counter()
        result = ledger.submit_block(block)
        times.append(time.perf_counter() - start)
        if result.status != "connected":
            raise RuntimeError(f"bench block did not connect: {result.status}")
    return times


def make_block(ledger: Ledger, payout: bytes, tag: int):
    template = ledger.build_template()
    return grind_block(template.build_block(PARAMS, payout, tag.to_bytes(8, "little")), PARAMS.pow.pow_limit, 1 << 32)


def run_mempool_bench(senders: int = 400, chain: int = 40, rounds: int = 2) -> dict:
    """{'mempool_connect_ratio', 'mempool_full_ms', 'mempool_empty_ms', 'mempool_txs'}."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = [PARAMS.genesis_time + 1_000_000]
        ledgers = [Ledger(PARAMS, Path(tmp) / name, clock=lambda: clock[0]) for name in ("full", "empty")]
        full, empty = ledgers
        try:
            funder, keys = make_key(0), [make_key(1 + i) for i in range(senders)]
            tag = 0
            for _ in range(6):  # the funder earns enough block rewards to fund every sender
                clock[0] += 60
                tag += 1
                connect_both(ledgers, make_block(full, funder.pubkey, tag))
            for i, key in enumerate(keys):  # at most 200 pending per sender: mine in batches
                full.submit_transaction(make_transfer(funder, i, key.pubkey, 10 * chain * FEE, FEE))
                if i % 200 == 199 or i == len(keys) - 1:
                    clock[0] += 60
                    tag += 1
                    connect_both(ledgers, make_block(full, funder.pubkey, tag))
            for key in keys:  # fee falls with the nonce: templates take a few from every sender
                for nonce in range(chain):
                    full.submit_transaction(make_transfer(key, nonce, funder.pubkey, 1, FEE + 10 * (chain - nonce)))
            full.mempool.max_bytes = full.mempool.total_bytes  # full, exactly
            txs = len(full.mempool)
            times = []
            for _ in range(rounds):
                clock[0] += 60
                tag += 1
                block = make_block(full, funder.pubkey, tag)
                if len(full.mempool) < len(block.txs) + 1000:
                    raise RuntimeError(
                        f"the mempool must stay full beyond one block: {len(full.mempool)} txs, block {len(block.txs)}"
                    )
                times.append(connect_both(ledgers, block))
        finally:
            for ledger in ledgers:
                ledger.close()
    full_s = statistics.median(t[0] for t in times)
    empty_s = statistics.median(t[1] for t in times)
    return {
        "mempool_connect_ratio": round(full_s / empty_s, 3),
        "mempool_full_ms": round(1000 * full_s, 1),
        "mempool_empty_ms": round(1000 * empty_s, 1),
        "mempool_txs": txs,
        "mempool_block_txs": len(block.txs),
    }


if __name__ == "__main__":
    print(run_mempool_bench())
