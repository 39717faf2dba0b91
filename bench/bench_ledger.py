"""Benchmark of the ledger's hot paths, in one run:

  1. headers_per_s: Bitcoin mainnet headers 0-9999 (tests/data) parsed and verified through
     hashgrad.chain.btc_headers.verify_bitcoin_headers (linkage, PoW, expected difficulty, MTP),
     median of --reps runs; also the extrapolated seconds for 900k headers (Bitcoin's chain today).
  2. tx_per_s: a 1 MB regtest block of signed transfers from as many distinct senders (each paying
     the next), connected through ChainState.accept_block on one core (verify_threads=1; decode-free:
     the block object as a peer's parser gives it; Merkle root, signatures, apply, undo and indexes,
     one SQLite commit) with the parsed-key cache emptied first; full_block_connect_s is that time.
     The same block's signatures verified with raw coincurve in the same run give raw_verify_per_s
     (key parsed per call, as any verifier of a fresh key must; measured right before and after each
     connect) and overhead_ratio = raw rate / connect rate (median over reps). *_fresh_recipients:
     the same senders paying keys never seen before (new accounts; every recipient key parsed on its
     own). A funding block (one sender, same size) is timed for reference. tx_per_s_parallel and
     full_block_connect_parallel_s: the first block with its signatures spread over verify_threads
     threads (one per CPU), reported beside, never in, the single-core ratios.
  3. With --profile, cProfile of one connect, top functions by cumulative time.

    .venv/bin/python bench/bench_ledger.py [--reps 3] [--profile]

Prints progress; the last line is JSON.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

from coincurve import PublicKeyXOnly

from hashgrad.chain.block import Block
from hashgrad.chain.btc_headers import verify_bitcoin_headers
from hashgrad.chain.encoding import encode_compact_size
from hashgrad.chain.genesis import compute_block_version
from hashgrad.chain.header import HEADER_SIZE, BlockHeader, iter_headers
from hashgrad.chain.keys import SigningKey, clear_pubkey_cache
from hashgrad.chain.merkle import compute_merkle_root
from hashgrad.chain.params import BTC_MAIN, HASHGRAD_REGTEST
from hashgrad.chain.pow import is_valid_proof_of_work
from hashgrad.chain.subsidy import compute_block_subsidy, compute_subsidy_split
from hashgrad.chain.tx import Transaction, TransferPayload, TxKind, make_coinbase, sign_transaction
from hashgrad.chain.validation import check_block_body
from hashgrad.store.chainstate import MAX_VERIFY_THREADS, ChainState

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the real data in tests/data
from data_files import read_data  # noqa: E402

HEADERS_FILE = "btc_mainnet_headers_000000_009999.bin"
BITCOIN_HEADERS_TODAY = 900_000
PARAMS = HASHGRAD_REGTEST
FEE = 1_000
FUNDING = 100_000
AUX_RAND = b"\x00" * 32


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- headers


def measure_headers(reps: int) -> dict:
    data = read_data(HEADERS_FILE)
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        result = verify_bitcoin_headers(BTC_MAIN, iter_headers(data))
        times.append(time.perf_counter() - started)
        if not result.ok or result.height != len(data) // HEADER_SIZE - 1:
            raise SystemExit(f"header verification failed: {result}")
    median = statistics.median(times)
    count = len(data) // HEADER_SIZE
    rate = count / median
    log(
        f"headers: {count} verified in {median:.3f} s (median of {reps}: "
        f"{', '.join(f'{t:.3f}' for t in times)}) = {rate:,.0f}/s; "
        f"{BITCOIN_HEADERS_TODAY:,} headers would take {BITCOIN_HEADERS_TODAY / rate:.1f} s"
    )
    return {"headers_per_s": rate, "headers_900k_s": BITCOIN_HEADERS_TODAY / rate}


# ---------------------------------------------------------------- blocks of transfers


def make_key(index: int) -> SigningKey:
    return SigningKey(hashlib.sha256(b"bench key %d" % index).digest())


def make_transfer(key: SigningKey, nonce: int, recipient: bytes, amount: int) -> Transaction:
    payload = TransferPayload(recipient, amount).serialize()
    return sign_transaction(key, PARAMS.magic, TxKind.TRANSFER, nonce, FEE, payload, AUX_RAND)


def make_block(parent_hash: bytes, height: int, time_: int, txs: list[Transaction], payout: bytes) -> Block:
    subsidy = compute_block_subsidy(height, PARAMS.initial_subsidy, PARAMS.subsidy_halving_interval)
    maker, _ = compute_subsidy_split(subsidy, PARAMS.block_maker_share_bps, PARAMS.job_shares_bps)
    coinbase = make_coinbase(height, payout, maker + FEE * len(txs), height.to_bytes(4, "little"))
    all_txs = (coinbase, *txs)
    root, _ = compute_merkle_root([tx.txid for tx in all_txs])
    header = BlockHeader(compute_block_version(PARAMS), parent_hash, root, time_, PARAMS.genesis_bits, 0)
    nonce = 0
    while not is_valid_proof_of_work(header.with_nonce(nonce).hash, header.bits, PARAMS.pow.pow_limit):
        nonce += 1
    return Block(header.with_nonce(nonce), all_txs)


def compute_full_block_count(tx_size: int) -> int:
    """Transfers that fit in a full block beside the header, the count prefix and the coinbase."""
    coinbase = make_coinbase(3, b"\x00" * 32, 0, b"\x00" * 4)
    room = PARAMS.max_block_size - HEADER_SIZE - len(encode_compact_size(10_000)) - coinbase.size
    return room // tx_size


def accept_timed(chainstate: ChainState, block: Block, profile: bool = False) -> float:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = chainstate.accept_block(block, None)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    if result.status != "connected":
        raise SystemExit(f"bench block did not connect: {result.status}")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        log(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        log(out.getvalue())
    return elapsed


def build_blocks(chainstate: ChainState, count: int) -> tuple[Block, Block, Block, Block]:
    """Block 1 pays the funder; block 2 (one sender) funds `count` senders; block 3 (the measured
    one) carries one transfer from each of them to the next sender. Block 3' (same parent) pays keys
    never seen before instead: new accounts, and no key whose parse one signature check can lend
    another (the raw rate parses one key per signature)."""
    funder = make_key(0)
    tip = chainstate.tip
    b1 = make_block(tip.hash, 1, tip.time + 60, [], funder.pubkey)
    chainstate.accept_block(b1, None)
    senders = [make_key(1 + i) for i in range(count)]
    funding = [make_transfer(funder, i, s.pubkey, FUNDING) for i, s in enumerate(senders)]
    b2 = make_block(b1.hash, 2, b1.header.time + 60, funding, funder.pubkey)
    spends = [make_transfer(s, 0, senders[(i + 1) % count].pubkey, FUNDING // 2) for i, s in enumerate(senders)]
    b3 = make_block(b2.hash, 3, b2.header.time + 60, spends, funder.pubkey)
    fresh = [make_transfer(s, 0, make_key(1 + count + i).pubkey, FUNDING // 2) for i, s in enumerate(senders)]
    b3_fresh = make_block(b2.hash, 3, b2.header.time + 60, fresh, funder.pubkey)
    return b1, b2, b3, b3_fresh


def fresh_copy(block: Block) -> Block:
    """The block as a peer's parser hands it over: new objects, no cached txids or sizes."""
    txs = tuple(Transaction(t.version, t.kind, t.sender, t.nonce, t.fee, t.payload, t.signature) for t in block.txs)
    header = block.header
    return Block(
        BlockHeader(header.version, header.prev_hash, header.merkle_root, header.time, header.bits, header.nonce), txs
    )


def measure_raw_verify(block: Block) -> dict:
    items = [(tx.sender, tx.compute_sighash(PARAMS.magic), tx.signature) for tx in block.txs[1:]]
    started = time.perf_counter()
    for pubkey, message, signature in items:
        if not PublicKeyXOnly(pubkey).verify(signature, message):
            raise SystemExit("raw verify failed")
    with_parse = len(items) / (time.perf_counter() - started)
    keys = [(PublicKeyXOnly(p), m, s) for p, m, s in items]
    started = time.perf_counter()
    for key, message, signature in keys:
        key.verify(signature, message)
    parsed = len(items) / (time.perf_counter() - started)
    return {"raw_verify_per_s": with_parse, "raw_verify_preparsed_per_s": parsed}


def connect_measured(b1: Block, b2: Block, measured: Block, verify_threads: int, profile: bool) -> dict:
    """A fresh chainstate at height 1; the funding block, then the measured block, each connected as
    a peer's parser hands it over and with no key already parsed."""
    with tempfile.TemporaryDirectory() as tmp:
        chainstate = ChainState(PARAMS, Path(tmp), verify_threads=verify_threads)
        try:
            chainstate.accept_block(fresh_copy(b1), None)
            clear_pubkey_cache()
            funding_s = accept_timed(chainstate, fresh_copy(b2))
            before = measure_raw_verify(measured)  # raw rates right before and after the connect, so
            clear_pubkey_cache()  # (b2's recipients are the measured block's senders: none arrives pre-parsed)
            connect_s = accept_timed(chainstate, fresh_copy(measured), profile)
            after = measure_raw_verify(measured)  # a busy neighbour on the machine skews both alike
        finally:
            chainstate.close()
    raw = statistics.mean([before["raw_verify_per_s"], after["raw_verify_per_s"]])
    return {
        "funding_s": funding_s,
        "connect_s": connect_s,
        "raw": raw,
        "ratio": raw / ((len(measured.txs) - 1) / connect_s),
        "preparsed": statistics.mean([before["raw_verify_preparsed_per_s"], after["raw_verify_preparsed_per_s"]]),
    }


def measure_blocks(reps: int, profile: bool) -> dict:
    """tx_per_s, overhead_ratio and full_block_connect_s are single-core (signatures checked in line,
    verify_threads=1) on block 3; *_fresh_recipients the same on block 3'; *_parallel block 3 with the
    signature checks spread over one thread per CPU."""
    sample = make_transfer(make_key(0), 0, make_key(1).pubkey, 1)
    count = compute_full_block_count(sample.size)
    threads = min(os.cpu_count() or 1, MAX_VERIFY_THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        builder = ChainState(PARAMS, Path(tmp), verify_threads=1)
        try:
            b1, b2, b3, b3_fresh = build_blocks(builder, count)
        finally:
            builder.close()
    single, fresh, parallel, body_check = [], [], [], []
    for rep in range(reps):
        clear_pubkey_cache()  # every timed part starts with no parsed key remembered
        started = time.perf_counter()
        check_block_body(PARAMS, fresh_copy(b3))
        body_check.append(time.perf_counter() - started)
        single.append(connect_measured(b1, b2, b3, 1, profile and rep == reps - 1))
        fresh.append(connect_measured(b1, b2, b3_fresh, 1, False))
        if threads > 1:
            parallel.append(connect_measured(b1, b2, b3, threads, False))
        log(
            f"rep {rep}: {count} transfers, {b3.size:,} bytes: connect {single[-1]['connect_s']:.3f} s single-core "
            f"({fresh[-1]['connect_s']:.3f} s paying fresh keys"
            + (f"; {parallel[-1]['connect_s']:.3f} s with {threads} verify threads" if parallel else "")
            + f"), body check alone {body_check[-1]:.3f} s, funding block {single[-1]['funding_s']:.3f} s, "
            f"raw verify {single[-1]['raw']:,.0f}/s ({single[-1]['preparsed']:,.0f}/s with parsed keys)"
        )
    full_s = statistics.median(r["connect_s"] for r in single)
    tx_per_s = count / full_s
    raw_per_s = statistics.median(r["raw"] for r in single)
    ratio = statistics.median(r["ratio"] for r in single)
    fresh_s = statistics.median(r["connect_s"] for r in fresh)
    fresh_ratio = statistics.median(r["ratio"] for r in fresh)
    log(
        f"transactions: {tx_per_s:,.0f}/s inside a single-core connect vs {raw_per_s:,.0f}/s raw coincurve verify "
        f"= {1 / ratio:.0%} of raw (median of per-rep ratios); a full 1 MB block ({count} transfers) connects "
        f"in {full_s:.3f} s; paying fresh keys {count / fresh_s:,.0f}/s = {1 / fresh_ratio:.0%} of raw, "
        f"{fresh_s:.3f} s; body check alone {count / statistics.median(body_check):,.0f} tx/s; one-sender "
        f"funding block {statistics.median(r['funding_s'] for r in single):.3f} s"
    )
    figures = {
        "tx_per_s": tx_per_s,
        "raw_verify_per_s": raw_per_s,
        "overhead_ratio": ratio,
        "full_block_connect_s": full_s,
        "txs_per_full_block": count,
        "raw_verify_preparsed_per_s": statistics.median(r["preparsed"] for r in single),
        "body_check_tx_per_s": count / statistics.median(body_check),
        "funding_block_connect_s": statistics.median(r["funding_s"] for r in single),
        "tx_per_s_fresh_recipients": count / fresh_s,
        "overhead_ratio_fresh_recipients": fresh_ratio,
        "full_block_connect_fresh_recipients_s": fresh_s,
        "verify_threads": threads,
    }
    if parallel:
        parallel_s = statistics.median(r["connect_s"] for r in parallel)
        log(
            f"with {threads} verify threads: {count / parallel_s:,.0f} tx/s, a full block in {parallel_s:.3f} s "
            f"({count / parallel_s / raw_per_s:.0%} of one core's raw verify rate; the machine's other load "
            f"shares those cores)"
        )
        figures.update({"tx_per_s_parallel": count / parallel_s, "full_block_connect_parallel_s": parallel_s})
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile the last measured connect")
    args = parser.parse_args(argv)
    figures = measure_headers(max(args.reps, 1))
    figures.update(measure_blocks(max(args.reps, 1), args.profile))
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
