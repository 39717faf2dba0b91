"""Time epoch processing (`chain.epoch.process_epoch`) for 256 uids and 64 validators, against the
time to connect an ordinary block.

Usage: python bench/bench_incentive.py [--uids 256] [--validators 64] [--block-txs 100] [--repeat 5]

The epoch's state — 256 registrations, stake on 64 validators, work reveals (5% of miners commit
and never reveal), each validator's revealed weights on its view of the miners (1 in 4 left at
zero), bonds from a warm-up epoch — is written directly as state records (registering 256 hotkeys
by transaction would mostly time signatures and burns, not the epoch). Three figures:

  epoch_dict_s     process_epoch in a StateOverlay over a plain dict (the pure rule: reads + Yuma + writes)
  epoch_block_s    connecting a real epoch-end block (`ChainState.accept_block`) whose state holds the
                   same records in SQLite: the block's own transactions, then the epoch, then the commit
  block_s          connecting an ordinary block of `--block-txs` signed transfers (the same path)

Ratios: epoch_dict_s / block_s (`ratio`) and epoch_block_s / block_s. Medians over `--repeat` runs
(each block figure on a fresh chain). Last line: JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from hashgrad.chain.coordination import (
    JobState,
    Neuron,
    NeuronStats,
    SparseRow,
    Stake,
    UidRecord,
    WeightsCommit,
    WorkCommit,
    WorkReveal,
    job_state_key,
    neuron_key,
    stake_key,
    stats_key,
    uid_key,
    weights_commit_key,
    weights_reveal_key,
    work_commit_key,
    work_reveal_key,
)
from hashgrad.chain.coordination_rules import get_stats
from hashgrad.chain.epoch import process_epoch
from hashgrad.chain.jobs import JOB_TRAIN, JobParams
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import COIN, HASHGRAD_REGTEST, ChainParams
from hashgrad.chain.state import PoolBalance, StateOverlay, get_pool, pool_key
from hashgrad.chain.tx import make_transfer
from hashgrad.mining.grind import grind_block
from hashgrad.node.ledger import Ledger

EPOCH = 0  # regtest tempo 30: epoch 0 ends at height 30
FEE = 1_000


def make_job(uids: int, validators: int) -> JobParams:
    return JobParams(0, "bench-train", JOB_TRAIN, max_uids=uids, max_validators=validators)


def _hash(*parts: bytes) -> bytes:
    return hashlib.sha256(b"bench-incentive" + b"".join(parts)).digest()


def build_registry(job: JobParams, n: int, validators: int, rng: random.Random) -> dict[bytes, bytes]:
    """Registrations, stake and empty stats: uids below `validators` hold stake, the rest mine."""
    records = {job_state_key(job.job_id): JobState(n, job.initial_burn, 0, EPOCH - 1).serialize()}
    for uid in range(n):
        hotkey, coldkey = _hash(b"hot", uid.to_bytes(2, "little")), _hash(b"cold", uid.to_bytes(2, "little"))
        records[uid_key(job.job_id, hotkey)] = UidRecord(uid).serialize()
        records[neuron_key(job.job_id, uid)] = Neuron(hotkey, coldkey, 1).serialize()
        records[stats_key(job.job_id, uid)] = NeuronStats(last_update=1).serialize()
        amount = rng.randrange(COIN, 1_000 * COIN) if uid < validators else 0
        records[stake_key(hotkey)] = Stake(coldkey, amount).serialize()
    return records


def build_epoch_records(job: JobParams, n: int, validators: int, rng: random.Random) -> dict[bytes, bytes]:
    """One epoch's commit-reveal records: miners' work (95% reveal) and validators' weights."""
    records = {}
    for uid in range(validators, n):
        commitment = _hash(b"commit", uid.to_bytes(2, "little"))
        records[work_commit_key(job.job_id, EPOCH, uid)] = WorkCommit(commitment, 5).serialize()
        if rng.random() < 0.95:
            artifact = _hash(b"artifact", uid.to_bytes(2, "little"))
            records[work_reveal_key(job.job_id, EPOCH, uid)] = WorkReveal(artifact, _hash(b"base")).serialize()
    for uid in range(validators):
        row = tuple((target, rng.randrange(1, 65536)) for target in range(validators, n) if rng.random() >= 0.25)
        records[weights_commit_key(job.job_id, EPOCH, uid)] = WeightsCommit(_hash(b"weights", bytes([uid]))).serialize()
        records[weights_reveal_key(job.job_id, EPOCH, uid)] = SparseRow(row).serialize()
    return records


def build_epoch_state(job: JobParams, n: int, validators: int, seed: int = 7) -> dict[bytes, bytes]:
    """Registry + this epoch's records + bonds left by a warm-up epoch over other weights (same code)."""
    rng = random.Random(seed)
    registry = build_registry(job, n, validators, rng)
    warmup = StateOverlay({**registry, **build_epoch_records(job, n, validators, rng)})
    warmup.put(pool_key(job.job_id), PoolBalance(1_000 * COIN).serialize())
    process_epoch(warmup, job, EPOCH, 30)
    bonds = {k: v for k, v in warmup.changes.items() if k[:1] == b"B" and v is not None}
    return {**registry, **bonds, **build_epoch_records(job, n, validators, rng)}


def time_epoch_over_dict(job: JobParams, records: dict[bytes, bytes], repeat: int) -> tuple[float, int]:
    base = {**records, pool_key(job.job_id): PoolBalance(1_000 * COIN).serialize()}
    seconds, writes = [], 0
    for _ in range(repeat):
        overlay = StateOverlay(base)
        start = time.perf_counter()
        process_epoch(overlay, job, EPOCH, 30)
        seconds.append(time.perf_counter() - start)
        writes = len(overlay.changes)
    return statistics.median(seconds), writes


# ------------------------------------------------------------------ real block connects
def time_connect(ledger: Ledger, payout: bytes) -> float:
    """Grind the next block from the mempool (untimed), then time accept_block alone."""
    template = ledger.build_template()
    block = grind_block(template.build_block(ledger.params, payout, b"bench"), ledger.params.pow.pow_limit)
    start = time.perf_counter()
    result = ledger.chainstate.accept_block(block, None)
    elapsed = time.perf_counter() - start
    if result.status != "connected":
        raise RuntimeError(f"block did not connect: {result.status}")
    ledger.mempool.update_for_chain_change(result.disconnected, result.connected)
    return elapsed


def time_chain(
    params: ChainParams, records: dict[bytes, bytes], block_txs: int, seed: int
) -> tuple[list[float], float]:
    """A fresh chain: blocks 1-3 fund the senders, 4-29 carry `block_txs` transfers each (timed), the
    synthetic epoch state is written, then block 30 (same transfers + the epoch) is timed."""
    senders = [SigningKey(_hash(b"sender", bytes([seed, i]))) for i in range(4)]
    recipients = [SigningKey(_hash(b"recipient", bytes([i]))).pubkey for i in range(block_txs)]
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(params, Path(tmp))
        funder = senders[0]
        for _ in range(3):
            time_connect(ledger, funder.pubkey)
        for sender in senders[1:]:
            nonce = ledger.mempool.get_next_nonce(funder.pubkey)
            ledger.submit_transaction(make_transfer(funder, params.magic, nonce, sender.pubkey, 5 * COIN, FEE))
        time_connect(ledger, funder.pubkey)
        ordinary = []
        while ledger.chainstate.height < 30:
            if ledger.chainstate.height == 29:
                with ledger.chainstate._transaction():  # bench shortcut: the epoch's records, straight in
                    ledger.chainstate._write_state(records)
            for i, recipient in enumerate(recipients):
                sender = senders[i % len(senders)]
                nonce = ledger.mempool.get_next_nonce(sender.pubkey)
                ledger.submit_transaction(make_transfer(sender, params.magic, nonce, recipient, 10_000, FEE))
            elapsed = time_connect(ledger, funder.pubkey)
            if ledger.chainstate.height < 30:
                ordinary.append(elapsed)
        stats = get_stats(ledger.chainstate, 0, 0)
        if stats.epoch != EPOCH or not stats.validator_permit or get_pool(ledger.chainstate, 0) != 0:
            raise RuntimeError("the epoch-end block did not process the synthetic epoch")
        ledger.close()
    return ordinary, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uids", type=int, default=256)
    parser.add_argument("--validators", type=int, default=64)
    parser.add_argument("--block-txs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    job = make_job(args.uids, args.validators)
    records = build_epoch_state(job, args.uids, args.validators)
    epoch_dict, writes = time_epoch_over_dict(job, records, args.repeat)
    print(
        f"process_epoch over a dict: {epoch_dict * 1000:.1f} ms ({args.uids} uids, {args.validators} validators,"
        f" {writes} records written)"
    )
    params = replace(HASHGRAD_REGTEST, jobs=(job, *HASHGRAD_REGTEST.jobs[1:]))
    ordinary, epoch_blocks = [], []
    for run in range(args.repeat):
        times, epoch_block = time_chain(params, records, args.block_txs, run)
        ordinary += times
        epoch_blocks.append(epoch_block)
    block = statistics.median(ordinary)
    epoch_block = statistics.median(epoch_blocks)
    print(f"connect an ordinary block ({args.block_txs} transfers): {block * 1000:.2f} ms (median of {len(ordinary)})")
    print(f"connect the epoch-end block ({args.block_txs} transfers + epoch): {epoch_block * 1000:.1f} ms")
    print(
        f"ratio epoch / ordinary block: {epoch_dict / block:.1f}x; epoch-end block / ordinary block: "
        f"{epoch_block / block:.1f}x"
    )
    print(
        json.dumps(
            {
                "uids": args.uids,
                "validators": args.validators,
                "block_txs": args.block_txs,
                "repeat": args.repeat,
                "epoch_dict_s": round(epoch_dict, 4),
                "epoch_block_s": round(epoch_block, 4),
                "block_s": round(block, 5),
                "ratio": round(epoch_dict / block, 2),
                "ratio_epoch_block": round(epoch_block / block, 2),
                "records_written": writes,
            }
        )
    )


if __name__ == "__main__":
    main()
