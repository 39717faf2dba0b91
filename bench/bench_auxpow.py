"""Benchmark: validating a merge-mined (AuxPoW) block header against validating a plain one.

Each case times decode + proof check from bytes, as a node does for a block it receives (the header's
hash is cached on the object, so every iteration decodes fresh bytes):

  plain     80-byte regtest header with its own PoW: BlockHeader.deserialize + check_header_proof.
  pool      a hashgrad regtest header with an auxpow as a Bitcoin pool builds it: segwit coinbase,
            12-entry coinbase branch (3,000 parent transactions), 5-entry chain branch (beside
            chain IDs 1 and 98), parent ground to our target: deserialize + parse_auxpow +
            check_header_proof (the node's path through chain/validation.py).
  syscoin   the real Syscoin block 430000 header and auxpow (tests/data; Bitcoin parent, 12-entry
            coinbase branch, 4-entry chain branch) through check_block_proof with its own chain ID.

Per-op times are the median of --repeat runs of --number iterations; ratios are auxpow / plain.

    .venv/bin/python bench/bench_auxpow.py [--number 2000] [--repeat 7]

Prints one line per case; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from hashgrad.chain.auxpow import (
    build_aux_coinbase_script,
    build_aux_merkle_tree,
    build_auxpow,
    check_block_proof,
    parse_auxpow,
)
from hashgrad.chain.btc_tx import BitcoinTx, TxIn, TxOut
from hashgrad.chain.genesis import compute_block_version
from hashgrad.chain.hashes import hash_to_int, sha256d
from hashgrad.chain.header import HEADER_SIZE, BlockHeader
from hashgrad.chain.merkle import compute_merkle_branch, compute_merkle_root
from hashgrad.chain.params import HASHGRAD_MAIN, HASHGRAD_REGTEST, PowParams
from hashgrad.chain.pow import compute_target
from hashgrad.chain.validation import check_header_proof

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the real data in tests/data
from data_files import read_json  # noqa: E402

PARAMS = HASHGRAD_REGTEST
PARENT_TXS = 3_000  # 12 levels of parent Merkle tree, like the real Syscoin sample
TREE_HEIGHT = 5
SYSCOIN_SAMPLE = "syscoin_430000_bitcoin_parent"


def log(message: str) -> None:
    print(message, flush=True)


def grind(header: BlockHeader, bits: int, pow_limit: int) -> BlockHeader:
    target = compute_target(bits, pow_limit)
    for nonce in range(1 << 32):
        if hash_to_int(header.with_nonce(nonce).hash) <= target:
            return header.with_nonce(nonce)
    raise SystemExit("nonce space exhausted")


def make_plain_header() -> bytes:
    header = BlockHeader(
        compute_block_version(PARAMS),
        sha256d(b"prev"),
        sha256d(b"root"),
        PARAMS.genesis_time + 600,
        PARAMS.genesis_bits,
        0,
    )
    return grind(header, header.bits, PARAMS.pow.pow_limit).serialize()


def make_pool_block() -> tuple[bytes, bytes]:
    """(header bytes, auxpow bytes) of a merge-mined regtest header, built as a Bitcoin pool does."""
    child = BlockHeader(
        compute_block_version(PARAMS, auxpow=True),
        sha256d(b"prev"),
        sha256d(b"root"),
        PARAMS.genesis_time + 600,
        PARAMS.genesis_bits,
        0,
    )
    tree = build_aux_merkle_tree(
        {PARAMS.chain_id: child.hash, 1: sha256d(b"nmc"), 98: sha256d(b"doge")}, TREE_HEIGHT, 0xF09F909F
    )
    script = b"\x03\x40\x0d\x0d" + build_aux_coinbase_script(tree.root, TREE_HEIGHT, 0xF09F909F) + b"/bench-pool/"
    coinbase = BitcoinTx(
        2,
        (TxIn(b"\x00" * 32, 0xFFFFFFFF, script, 0xFFFFFFFF, (b"\x00" * 32,)),),
        (
            TxOut(312_500_000, b"\x00\x14" + b"\x77" * 20),
            TxOut(0, b"\x6a\x24\xaa\x21\xa9\xed" + sha256d(b"witness root")),
        ),
        0,
    )
    txids = [coinbase.txid] + [sha256d(b"tx %d" % i) for i in range(PARENT_TXS - 1)]
    parent = BlockHeader(0x20000000, sha256d(b"btc prev"), compute_merkle_root(txids)[0], 1_800_000_000, 0x17034219, 0)
    parent = grind(parent, child.bits, PARAMS.pow.pow_limit)
    branch = tuple(compute_merkle_branch(txids, 0))
    auxpow = build_auxpow(coinbase, parent, branch, tree.branches[PARAMS.chain_id], tree.slots[PARAMS.chain_id])
    return child.serialize(), auxpow.serialize()


def load_syscoin_block() -> tuple[bytes, bytes, int]:
    entries = {e["name"]: e for e in read_json("auxpow_real_blocks.json")["entries"]}
    entry = entries[SYSCOIN_SAMPLE]
    raw = bytes.fromhex(entry["hex"])
    return raw[:HEADER_SIZE], raw[HEADER_SIZE : HEADER_SIZE + entry["auxpow_length"]], entry["chain_id"]


def time_per_op(check, number: int, repeat: int) -> float:
    """Median seconds per call of check() over `repeat` runs of `number` calls."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            check()
        runs.append((time.perf_counter() - started) / number)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    plain = make_plain_header()
    pool_header, pool_auxpow = make_pool_block()
    sys_header, sys_auxpow, sys_chain_id = load_syscoin_block()
    sys_params = replace(
        HASHGRAD_MAIN, chain_id=sys_chain_id, pow=PowParams(pow_limit=(1 << 256) - 1), auxpow_start_height=0
    )
    pool_shape = parse_auxpow(pool_auxpow)
    sys_shape = parse_auxpow(sys_auxpow)

    def check_plain():
        check_header_proof(PARAMS, BlockHeader.deserialize(plain), None)

    def check_pool():
        check_header_proof(PARAMS, BlockHeader.deserialize(pool_header), parse_auxpow(pool_auxpow))

    def check_syscoin():
        check_block_proof(BlockHeader.deserialize(sys_header), parse_auxpow(sys_auxpow), sys_params, 0)

    for check in (check_plain, check_pool, check_syscoin):
        check()  # each case is valid: a failing check would raise here, not be timed
    plain_s = time_per_op(check_plain, args.number, args.repeat)
    pool_s = time_per_op(check_pool, args.number, args.repeat)
    sys_s = time_per_op(check_syscoin, args.number, args.repeat)
    log(f"plain header:   {plain_s * 1e6:8.1f} us/header (80 bytes)")
    log(
        f"pool auxpow:    {pool_s * 1e6:8.1f} us/header ({len(pool_auxpow)} auxpow bytes, coinbase branch "
        f"{len(pool_shape.coinbase_branch)}, chain branch {len(pool_shape.chain_branch)}) = {pool_s / plain_s:.1f}x"
    )
    log(
        f"syscoin auxpow: {sys_s * 1e6:8.1f} us/header ({len(sys_auxpow)} auxpow bytes, coinbase branch "
        f"{len(sys_shape.coinbase_branch)}, chain branch {len(sys_shape.chain_branch)}) = {sys_s / plain_s:.1f}x"
    )
    print(
        json.dumps(
            {
                "plain_header_us": round(plain_s * 1e6, 2),
                "auxpow_pool_us": round(pool_s * 1e6, 2),
                "auxpow_syscoin_us": round(sys_s * 1e6, 2),
                "ratio_pool": round(pool_s / plain_s, 2),
                "ratio_syscoin": round(sys_s / plain_s, 2),
                "auxpow_pool_bytes": len(pool_auxpow),
                "auxpow_syscoin_bytes": len(sys_auxpow),
                "auxpow_headers_per_s": round(1 / pool_s),
                "number": args.number,
                "repeat": args.repeat,
            }
        )
    )


if __name__ == "__main__":
    main()
