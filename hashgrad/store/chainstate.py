"""The chainstate: block index, most-work fork choice, connect/disconnect with undo, on SQLite.

This is the imperative shell around `chain.validation`. Blocks are accepted in any order (orphans
wait in memory for their parent), checked, stored, and the best chain (most cumulative work; on a
tie, the block received first) is activated by disconnecting to the fork point and connecting the
new branch. Each connect or disconnect is one SQLite transaction, so a process killed at any
instant reopens with a consistent tip and state. Invalid blocks are remembered, except for
mutation failures, which must not poison the hash of the honest twin (CVE-2012-2459).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from hashgrad.chain.block import Block, parse_block
from hashgrad.chain.difficulty import compute_next_work_required
from hashgrad.chain.genesis import build_genesis_block
from hashgrad.chain.params import MEDIAN_TIME_SPAN, ChainParams
from hashgrad.chain.pow import compute_block_proof
from hashgrad.chain.state import StateOverlay, account_key, deserialize_undo, serialize_undo
from hashgrad.chain.timing import compute_median_time_past
from hashgrad.chain.tx import Transaction, decode_payload
from hashgrad.chain.validation import (
    HeaderContext,
    apply_block,
    check_block_body,
    check_header_context,
    check_header_proof,
    is_mutation_error,
)
from hashgrad.errors import ConsensusError, HashgradError, StoreError
from hashgrad.store.db import open_database

STATUS_VALID = 1
STATUS_FAILED = 2
MAX_ORPHANS = 256
MAX_ORPHAN_BYTES = 32 << 20
MAX_INVALID_REMEMBERED = 10_000
MAX_VERIFY_THREADS = 8
MAX_SQL_VARIABLES = 500  # keys per batched read, well under SQLite's variable limit


@dataclass
class IndexEntry:
    hash: bytes
    prev: bytes
    height: int
    chainwork: int
    time: int
    bits: int
    status: int
    seq: int
    failure: str | None = None

    def is_failed(self) -> bool:
        return self.status == STATUS_FAILED


@dataclass
class AcceptResult:
    """What accepting a block did: its own fate, and how the active chain moved."""

    status: str  # "connected" | "side-branch" | "orphan" | "duplicate"
    connected: list[Block] = field(default_factory=list)
    disconnected: list[Block] = field(default_factory=list)


class _BranchAncestry:
    """Times and bits by height along the branch ending at `entry` (the difficulty Ancestry protocol)."""

    def __init__(self, chainstate: ChainState, entry: IndexEntry):
        self.chainstate = chainstate
        self.entry = entry

    def time_at(self, height: int) -> int:
        return self.chainstate.get_ancestor(self.entry, height).time

    def bits_at(self, height: int) -> int:
        return self.chainstate.get_ancestor(self.entry, height).bits


class ChainState:
    def __init__(self, params: ChainParams, datadir: Path, verify_threads: int | None = None):
        """`verify_threads`: threads that check a large block's signatures (default: one per CPU;
        1 checks them in line)."""
        self.params = params
        self.datadir = Path(datadir)
        threads = verify_threads if verify_threads is not None else min(os.cpu_count() or 1, MAX_VERIFY_THREADS)
        self.verifier = ThreadPoolExecutor(threads, "verify") if threads > 1 else None
        self.db = open_database(self.datadir / "chain.sqlite")
        self.lock = threading.RLock()
        self.index: dict[bytes, IndexEntry] = {}
        self.active: list[bytes] = []
        self.orphans: OrderedDict[bytes, Block] = OrderedDict()
        self.orphan_bytes = 0
        self.invalid_headers: _BoundedDict = _BoundedDict(MAX_INVALID_REMEMBERED)
        self.accepted_block: Block | None = None  # the block accept_block is activating (saves a re-parse)
        self.candidates: set[bytes] = set()  # blocks with more work than the tip when stored (setBlockIndexCandidates)
        self.next_seq = 0
        self._load()
        self.candidates = {h for h, e in self.index.items() if e.chainwork > self.tip.chainwork}
        # A kill between storing a better block (or disconnecting for a reorg) and connecting it
        # leaves the tip below the most-work chain: finish that now, as bitcoind does at startup.
        self._activate_best_chain(AcceptResult("side-branch"))

    # ---------------------------------------------------------------- loading
    def _load(self) -> None:
        rows = self.db.execute(
            "SELECT hash, prev, height, chainwork, time, bits, status, seq, failure FROM block_index"
        ).fetchall()
        for row in rows:
            entry = IndexEntry(row[0], row[1], row[2], int.from_bytes(row[3], "big"), *row[4:])
            self.index[entry.hash] = entry
            self.next_seq = max(self.next_seq, entry.seq + 1)
        if not self.index:
            self._store_genesis()
        self.active = [h for (h,) in self.db.execute("SELECT hash FROM active_chain ORDER BY height")]
        tip_row = self.db.execute("SELECT value FROM meta WHERE key='tip'").fetchone()
        if tip_row is None or not self.active or self.active[-1] != tip_row[0]:
            raise StoreError("bad-chainstate", "active chain and tip disagree")
        genesis = build_genesis_block(self.params)
        if self.active[0] != genesis.hash:
            raise StoreError("wrong-network", "the database holds another network's chain")

    def _store_genesis(self) -> None:
        genesis = build_genesis_block(self.params)
        entry = IndexEntry(
            genesis.hash,
            genesis.header.prev_hash,
            0,
            compute_block_proof(genesis.header.bits),
            genesis.header.time,
            genesis.header.bits,
            STATUS_VALID,
            0,
        )
        with self._transaction():
            self._insert_entry(entry, genesis.serialize())
            self.db.execute("INSERT INTO active_chain VALUES (0, ?)", (genesis.hash,))
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('tip', ?)", (genesis.hash,))
            self._index_transactions(genesis, 0)
        self.index[entry.hash] = entry
        self.next_seq = 1

    # ---------------------------------------------------------------- reads
    @property
    def tip(self) -> IndexEntry:
        return self.index[self.active[-1]]

    @property
    def height(self) -> int:
        return len(self.active) - 1

    def get(self, key: bytes) -> bytes | None:
        """The StateView of the active tip's state."""
        row = self.db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def get_many(self, keys: list[bytes]) -> dict[bytes, bytes]:
        """The stored value of each present key (absent keys are left out), in batched queries."""
        found: dict[bytes, bytes] = {}
        for start in range(0, len(keys), MAX_SQL_VARIABLES):
            chunk = keys[start : start + MAX_SQL_VARIABLES]
            marks = ",".join("?" * len(chunk))
            found.update(self.db.execute(f"SELECT key, value FROM state WHERE key IN ({marks})", chunk))
        return found

    def iter_state(self, prefix: bytes):
        upper = prefix[:-1] + bytes([prefix[-1] + 1])
        yield from self.db.execute(
            "SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key", (prefix, upper)
        )

    def get_block_hash(self, height: int) -> bytes | None:
        return self.active[height] if 0 <= height < len(self.active) else None

    def get_block(self, block_hash: bytes) -> Block | None:
        row = self.db.execute("SELECT data FROM blocks WHERE hash=?", (block_hash,)).fetchone()
        return parse_block(row[0], max(self.params.max_block_size * 4, 1 << 22)) if row else None

    def get_block_bytes(self, block_hash: bytes) -> bytes | None:
        row = self.db.execute("SELECT data FROM blocks WHERE hash=?", (block_hash,)).fetchone()
        return row[0] if row else None

    def is_on_active_chain(self, entry: IndexEntry) -> bool:
        return entry.height < len(self.active) and self.active[entry.height] == entry.hash

    def get_ancestor(self, entry: IndexEntry, height: int) -> IndexEntry:
        if height > entry.height or height < 0:
            raise IndexError("no ancestor at that height")
        while not self.is_on_active_chain(entry):
            if entry.height == height:
                return entry
            entry = self.index[entry.prev]
        return self.index[self.active[height]] if height <= entry.height else entry

    def get_transaction(self, txid: bytes) -> tuple[Transaction, bytes, int] | None:
        row = self.db.execute("SELECT block_hash, position FROM tx_index WHERE txid=?", (txid,)).fetchone()
        if row is None:
            return None
        block = self.get_block(row[0])
        return block.txs[row[1]], row[0], self.index[row[0]].height

    def get_address_txids(self, pubkey: bytes, limit: int = 100) -> list[tuple[int, bytes]]:
        rows = self.db.execute(
            "SELECT height, txid FROM address_index WHERE pubkey=? ORDER BY height DESC, position DESC LIMIT ?",
            (pubkey, limit),
        )
        return [(h, t) for h, t in rows]

    def compute_median_time_past(self, entry: IndexEntry) -> int:
        times = []
        current: IndexEntry | None = entry
        while current is not None and len(times) < MEDIAN_TIME_SPAN:
            times.append(current.time)
            current = self.index.get(current.prev) if current.height > 0 else None
        return compute_median_time_past(times)

    def compute_header_context(self, parent: IndexEntry, new_time: int, now: int | None) -> HeaderContext:
        bits = compute_next_work_required(self.params.pow, _BranchAncestry(self, parent), parent.height, new_time)
        return HeaderContext(parent.height + 1, bits, self.compute_median_time_past(parent), now)

    # ---------------------------------------------------------------- accepting blocks
    def accept_block(self, block: Block, now: int | None = None) -> AcceptResult:
        """Check and store a block, then move to the most-work chain. Raises ConsensusError if invalid."""
        with self.lock:
            result = self._accept_one(block, now)
            if result.status in ("connected", "side-branch"):
                self._accept_orphans_of(block.hash, now, result)
            return result

    def _accept_one(self, block: Block, now: int | None) -> AcceptResult:
        block_hash = block.hash
        known = self.index.get(block_hash)
        if known is not None:
            if known.is_failed():
                raise ConsensusError("duplicate-invalid", known.failure or "")
            return AcceptResult("duplicate")
        if block_hash in self.invalid_headers:
            raise ConsensusError("duplicate-invalid", self.invalid_headers[block_hash])
        check_header_proof(self.params, block.header, block.auxpow)
        parent = self.index.get(block.header.prev_hash)
        if parent is None and block.header.prev_hash not in self.invalid_headers:
            self._add_orphan(block)
            return AcceptResult("orphan")
        if parent is None or self._has_failed_ancestor(parent):  # descends from a block that failed
            self.invalid_headers[block_hash] = "bad-prevblk"
            raise ConsensusError("bad-prevblk", "parent block is invalid")
        try:
            check_header_context(self.params, block.header, self.compute_header_context(parent, block.header.time, now))
        except ConsensusError as exc:
            if exc.reason != "time-too-new":  # a future block may become valid later
                self.invalid_headers[block_hash] = exc.reason
            raise
        try:
            check_block_body(self.params, block, self.verifier)
        except HashgradError as exc:
            if not is_mutation_error(exc):
                self.invalid_headers[block_hash] = exc.reason
            raise
        entry = IndexEntry(
            block_hash,
            parent.hash,
            parent.height + 1,
            parent.chainwork + compute_block_proof(block.header.bits),
            block.header.time,
            block.header.bits,
            STATUS_VALID,
            self.next_seq,
        )
        self.next_seq += 1
        with self._transaction():
            self._insert_entry(entry, block.serialize())
        self.index[block_hash] = entry
        if entry.chainwork > self.tip.chainwork:
            self.candidates.add(block_hash)
        result = AcceptResult("side-branch")
        self.accepted_block = block  # connected from memory if it joins the best chain now
        try:
            self._activate_best_chain(result)
        finally:
            self.accepted_block = None
        if self.is_on_active_chain(entry):
            result.status = "connected"
        elif entry.is_failed():
            raise ConsensusError(entry.failure or "invalid", "block failed to connect")
        return result

    def _add_orphan(self, block: Block) -> None:
        """Keep an orphan, forgetting the oldest beyond MAX_ORPHANS blocks or MAX_ORPHAN_BYTES bytes
        (a count alone let 256 full blocks pin half a gigabyte)."""
        if block.hash in self.orphans:
            return
        self.orphans[block.hash] = block
        self.orphan_bytes += block.size
        while len(self.orphans) > MAX_ORPHANS or self.orphan_bytes > MAX_ORPHAN_BYTES:
            self.orphan_bytes -= self.orphans.popitem(last=False)[1].size

    def _accept_orphans_of(self, parent_hash: bytes, now: int | None, result: AcceptResult) -> None:
        queue = [parent_hash]
        while queue:
            current = queue.pop()
            children = [b for b in self.orphans.values() if b.header.prev_hash == current]
            for child in children:
                del self.orphans[child.hash]
                self.orphan_bytes -= child.size
                try:
                    sub = self._accept_one(child, now)
                except HashgradError:
                    continue
                result.connected += sub.connected
                result.disconnected += sub.disconnected
                queue.append(child.hash)

    # ---------------------------------------------------------------- fork choice
    def _find_best_candidate(self) -> IndexEntry:
        """The most-work block not known invalid; only blocks stored with more work than the tip
        at the time can beat it, so only those are looked at (and the rest forgotten)."""
        tip = self.tip
        self.candidates = {h for h in self.candidates if self.index[h].chainwork > tip.chainwork}
        best = tip
        for block_hash in sorted(self.candidates, key=lambda h: self.index[h].seq):
            entry = self.index[block_hash]
            # Strictly more work: among equals the block received first stays.
            if entry.chainwork > best.chainwork and not self._has_failed_ancestor(entry):
                best = entry
        return best

    def _has_failed_ancestor(self, entry: IndexEntry) -> bool:
        while not self.is_on_active_chain(entry):
            if entry.is_failed():
                return True
            entry = self.index[entry.prev]
        return False

    def _find_fork(self, entry: IndexEntry) -> IndexEntry:
        while not self.is_on_active_chain(entry):
            entry = self.index[entry.prev]
        return entry

    def _activate_best_chain(self, result: AcceptResult) -> None:
        skipped: set[bytes] = set()
        while True:
            best = self._find_best_candidate()
            if best.hash == self.tip.hash or best.hash in skipped:
                return
            fork = self._find_fork(best)
            if self.tip.height - fork.height > self.params.max_reorg_depth:
                skipped.add(best.hash)
                self._mark_failed(best, "bad-fork-too-deep", persist=False)
                continue
            branch = []
            entry = best
            while entry.hash != fork.hash:
                branch.append(entry)
                entry = self.index[entry.prev]
            while self.tip.hash != fork.hash:
                result.disconnected.append(self._disconnect_tip())
            for entry in reversed(branch):
                try:
                    result.connected.append(self._connect(entry))
                except ConsensusError as exc:
                    self._mark_failed(entry, exc.reason)
                    break

    def _mark_failed(self, entry: IndexEntry, reason: str, persist: bool = True) -> None:
        entry.status = STATUS_FAILED
        entry.failure = reason
        if persist:
            self.db.execute(
                "UPDATE block_index SET status=?, failure=? WHERE hash=?", (STATUS_FAILED, reason, entry.hash)
            )

    # ---------------------------------------------------------------- connect / disconnect
    def _connect(self, entry: IndexEntry) -> Block:
        accepted = self.accepted_block
        block = accepted if accepted is not None and accepted.hash == entry.hash else self.get_block(entry.hash)
        overlay = StateOverlay(self)
        overlay.prefetch(compute_block_account_keys(block))  # one batched read instead of one per account
        apply_block(self.params, overlay, block, entry.height)
        undo = overlay.compute_undo()
        with self._transaction():
            self._write_state(overlay.changes)
            self.db.execute("INSERT OR REPLACE INTO undo VALUES (?, ?)", (entry.hash, serialize_undo(undo)))
            self.db.execute("INSERT OR REPLACE INTO active_chain VALUES (?, ?)", (entry.height, entry.hash))
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('tip', ?)", (entry.hash,))
            self._index_transactions(block, entry.height)
        self.active.append(entry.hash)
        return block

    def _disconnect_tip(self) -> Block:
        entry = self.tip
        if entry.height == 0:
            raise StoreError("cannot-disconnect-genesis")
        block = self.get_block(entry.hash)
        row = self.db.execute("SELECT data FROM undo WHERE hash=?", (entry.hash,)).fetchone()
        if row is None:
            raise StoreError("missing-undo", entry.hash[::-1].hex())
        with self._transaction():
            self._write_state(deserialize_undo(row[0]))
            self.db.execute("DELETE FROM active_chain WHERE height=?", (entry.height,))
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('tip', ?)", (entry.prev,))
            self._unindex_transactions(block, entry.height)
        self.active.pop()
        self.candidates.add(entry.hash)  # the old branch may have to come back if the new one fails
        return block

    def _write_state(self, changes: dict[bytes, bytes | None]) -> None:
        puts = [(k, v) for k, v in sorted(changes.items()) if v is not None]
        deletes = [(k,) for k, v in changes.items() if v is None]
        if puts:
            self.db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?)", puts)
        if deletes:
            self.db.executemany("DELETE FROM state WHERE key=?", deletes)

    def _index_transactions(self, block: Block, height: int) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO tx_index VALUES (?, ?, ?)",
            [(tx.txid, block.hash, i) for i, tx in enumerate(block.txs)],
        )
        rows = [(pubkey, height, i, tx.txid) for i, tx in enumerate(block.txs) for pubkey in compute_tx_pubkeys(tx)]
        self.db.executemany("INSERT OR REPLACE INTO address_index VALUES (?, ?, ?, ?)", rows)

    def _unindex_transactions(self, block: Block, height: int) -> None:
        self.db.executemany(
            "DELETE FROM tx_index WHERE txid=? AND block_hash=?", [(tx.txid, block.hash) for tx in block.txs]
        )
        self.db.executemany(
            "DELETE FROM address_index WHERE pubkey=? AND height=? AND position=?",
            [(p, height, i) for i, tx in enumerate(block.txs) for p in compute_tx_pubkeys(tx)],
        )

    def _insert_entry(self, entry: IndexEntry, data: bytes) -> None:
        self.db.execute(
            "INSERT INTO block_index VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.hash,
                entry.prev,
                entry.height,
                entry.chainwork.to_bytes(32, "big"),
                entry.time,
                entry.bits,
                entry.status,
                entry.seq,
                entry.failure,
            ),
        )
        self.db.execute("INSERT OR REPLACE INTO blocks VALUES (?, ?)", (entry.hash, data))

    def _transaction(self):
        return _Transaction(self.db)

    def close(self) -> None:
        with self.lock:
            self.db.close()
            if self.verifier is not None:
                self.verifier.shutdown(wait=False, cancel_futures=True)


def compute_tx_pubkeys(tx: Transaction) -> list[bytes]:
    """The accounts a transaction touches, for the address index (sender first, no duplicates)."""
    keys = [] if tx.is_coinbase() else [tx.sender]
    try:
        recipient = getattr(decode_payload(tx), "recipient", None)
    except HashgradError:
        recipient = None
    if recipient is not None and recipient not in keys:
        keys.append(recipient)
    return keys


def compute_block_account_keys(block: Block) -> list[bytes]:
    """State keys of the accounts a block's transactions name (what its connect reads), no duplicates."""
    return list(dict.fromkeys(account_key(p) for tx in block.txs for p in compute_tx_pubkeys(tx)))


class _BoundedDict(OrderedDict):
    """A dict that forgets its oldest entries beyond `limit` (cheap PoW must not exhaust memory)."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        while len(self) > self.limit:
            self.popitem(last=False)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return False
