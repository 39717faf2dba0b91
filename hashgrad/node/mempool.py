"""The mempool: transactions valid against the tip, kept per sender in nonce order.

Admission runs the consensus checks (signature, kind, payload) and applies the sender's pending
chain plus the new transaction on an overlay of the tip state, so nonce and balance are checked
exactly as a block would. Policy on top: a minimum fee rate, replacement of a pending nonce only at a
higher fee, and a byte limit that evicts the lowest fee-rate tail. Templates take sender heads
greedily by fee rate. After a reorg the disconnected blocks' transactions are re-admitted.
"""
from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass

from hashgrad.chain.block import Block
from hashgrad.chain.params import ChainParams
from hashgrad.chain.state import StateOverlay, get_account
from hashgrad.chain.tx import Transaction
from hashgrad.chain.validation import apply_transaction, check_transaction
from hashgrad.errors import HashgradError, MempoolError, TxError

DEFAULT_MAX_BYTES = 50_000_000
DEFAULT_MIN_FEE_RATE = 1  # base units per byte
MAX_PENDING_PER_SENDER = 256


@dataclass(frozen=True)
class MempoolEntry:
    tx: Transaction
    added_at: float

    @property
    def fee_rate(self) -> float:
        return self.tx.fee / self.tx.size


class Mempool:
    def __init__(self, params: ChainParams, chainstate, max_bytes: int = DEFAULT_MAX_BYTES,
                 min_fee_rate: int = DEFAULT_MIN_FEE_RATE):
        self.params = params
        self.chainstate = chainstate
        self.max_bytes = max_bytes
        self.min_fee_rate = min_fee_rate
        self.entries: dict[bytes, MempoolEntry] = {}
        self.by_sender: dict[bytes, dict[int, bytes]] = {}
        self.total_bytes = 0
        self.lock = threading.RLock()

    def __contains__(self, txid: bytes) -> bool:
        return txid in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, txid: bytes) -> Transaction | None:
        entry = self.entries.get(txid)
        return entry.tx if entry else None

    def get_sender_chain(self, sender: bytes) -> list[Transaction]:
        pending = self.by_sender.get(sender, {})
        return [self.entries[pending[n]].tx for n in sorted(pending)]

    def get_next_nonce(self, sender: bytes) -> int:
        pending = self.by_sender.get(sender)
        base = get_account(self.chainstate, sender).nonce
        return max(pending) + 1 if pending else base

    # ------------------------------------------------------------ admission
    def add(self, tx: Transaction) -> None:
        """Admit a transaction or raise TxError/MempoolError with its reason code."""
        with self.lock:
            if tx.txid in self.entries:
                raise MempoolError("txn-already-in-mempool")
            if tx.is_coinbase():
                raise TxError("coinbase", "a coinbase is only valid in a block")
            if self.chainstate.get_transaction(tx.txid) is not None:
                raise MempoolError("txn-already-known", "already in the chain")
            check_transaction(self.params, tx)
            if tx.fee < self.min_fee_rate * tx.size:
                raise MempoolError("min-relay-fee-not-met", f"fee {tx.fee} < {self.min_fee_rate * tx.size}")
            replaced = self._check_against_state(tx)
            if replaced is not None:
                self._remove(replaced)
            self._insert(tx)
            self._trim_to_size(tx.txid)

    def _check_against_state(self, tx: Transaction) -> bytes | None:
        """Apply the sender's pending chain and tx on the tip state; returns a txid tx replaces."""
        pending = self.by_sender.get(tx.sender, {})
        replaced = pending.get(tx.nonce)
        if replaced is not None and tx.fee <= self.entries[replaced].tx.fee:
            raise MempoolError("txn-mempool-conflict", "a pending transaction has this nonce and an equal or higher fee")
        if replaced is None and len(pending) >= MAX_PENDING_PER_SENDER:
            raise MempoolError("too-long-mempool-chain", f"{len(pending)} pending transactions from this sender")
        overlay = StateOverlay(self.chainstate)
        height = self.chainstate.height + 1
        for nonce in sorted(pending):
            if nonce >= tx.nonce:
                break
            apply_transaction(self.params, overlay, self.entries[pending[nonce]].tx, height)
        account = get_account(overlay, tx.sender)
        if tx.nonce < account.nonce:
            raise TxError("bad-txns-nonce", f"nonce {tx.nonce} already used (account at {account.nonce})")
        if tx.nonce > account.nonce:
            raise TxError("bad-txns-nonce-gap", f"nonce {tx.nonce}, next expected {account.nonce}")
        apply_transaction(self.params, overlay, tx, height)
        if replaced is not None:  # later pending txs must still fit after the replacement
            for nonce in sorted(n for n in pending if n > tx.nonce):
                apply_transaction(self.params, overlay, self.entries[pending[nonce]].tx, height)
        return replaced

    def _insert(self, tx: Transaction) -> None:
        self.entries[tx.txid] = MempoolEntry(tx, time.time())
        self.by_sender.setdefault(tx.sender, {})[tx.nonce] = tx.txid
        self.total_bytes += tx.size

    def _remove(self, txid: bytes) -> None:
        entry = self.entries.pop(txid)
        pending = self.by_sender[entry.tx.sender]
        del pending[entry.tx.nonce]
        if not pending:
            del self.by_sender[entry.tx.sender]
        self.total_bytes -= entry.tx.size

    def _trim_to_size(self, new_txid: bytes) -> None:
        while self.total_bytes > self.max_bytes:
            tails = [self.entries[p[max(p)]] for p in self.by_sender.values()]
            victim = min(tails, key=lambda e: (e.fee_rate, -e.added_at))
            self._remove(victim.tx.txid)
            if victim.tx.txid == new_txid:
                raise MempoolError("mempool-full", "fee rate too low to enter a full mempool")

    # ------------------------------------------------------------ chain updates
    def update_for_chain_change(self, disconnected: list[Block], connected: list[Block]) -> None:
        """After the tip moved: re-admit disconnected transactions, drop mined and now-invalid ones."""
        if not disconnected and not connected:
            return
        with self.lock:
            mined = {tx.txid for block in connected for tx in block.txs}
            candidates = [tx for block in reversed(disconnected) for tx in block.txs[1:]]
            candidates += [entry.tx for entry in self.entries.values()]
            self.entries.clear()
            self.by_sender.clear()
            self.total_bytes = 0
            for tx in sorted(candidates, key=lambda t: (t.sender, t.nonce)):
                if tx.txid in mined or tx.txid in self.entries:
                    continue
                try:
                    self.add(tx)
                except HashgradError:
                    continue

    # ------------------------------------------------------------ templates
    def select_for_block(self, max_bytes: int) -> list[Transaction]:
        """Sender heads by fee rate, each sender's transactions in nonce order, within max_bytes."""
        with self.lock:
            queues = {sender: [self.entries[p[n]].tx for n in sorted(p)] for sender, p in self.by_sender.items()}
            heap = [(-q[0].fee / q[0].size, sender, 0) for sender, q in queues.items()]
            heapq.heapify(heap)
            chosen, used = [], 0
            while heap:
                _, sender, i = heapq.heappop(heap)
                tx = queues[sender][i]
                if used + tx.size > max_bytes:
                    continue  # the rest of this sender's chain cannot follow a skipped nonce
                chosen.append(tx)
                used += tx.size
                if i + 1 < len(queues[sender]):
                    nxt = queues[sender][i + 1]
                    heapq.heappush(heap, (-nxt.fee / nxt.size, sender, i + 1))
            return chosen

    def get_info(self) -> dict:
        with self.lock:
            return {"size": len(self.entries), "bytes": self.total_bytes, "maxmempool": self.max_bytes,
                    "minrelaytxfeerate": self.min_fee_rate, "senders": len(self.by_sender)}
