"""The mempool: transactions valid against the tip, kept per sender in nonce order.

Admission runs the consensus checks (signature, kind, payload) and applies the sender's pending
chain plus the new transaction on an overlay of the tip state, so nonce and balance are checked
exactly as a block would. Policy on top: a minimum fee rate, replacement of a pending nonce only at a
higher fee, and a byte limit that evicts the lowest fee-rate tail. Templates take sender heads
greedily by fee rate. On each tip change only the senders the connected and disconnected blocks
touched are re-checked (plus a small round-robin sweep), and a reorg's disconnected transactions
are re-admitted: block connect costs the same with a full mempool as with an empty one.
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
SWEEP_SENDERS = 8  # untouched senders re-checked per tip change (height-only invalidity)


@dataclass(frozen=True)
class MempoolEntry:
    tx: Transaction
    added_at: float

    @property
    def fee_rate(self) -> float:
        return self.tx.fee / self.tx.size


class Mempool:
    def __init__(
        self,
        params: ChainParams,
        chainstate,
        max_bytes: int = DEFAULT_MAX_BYTES,
        min_fee_rate: int = DEFAULT_MIN_FEE_RATE,
    ):
        self.params = params
        self.chainstate = chainstate
        self.max_bytes = max_bytes
        self.min_fee_rate = min_fee_rate
        self.entries: dict[bytes, MempoolEntry] = {}
        self.by_sender: dict[bytes, dict[int, bytes]] = {}
        self.total_bytes = 0
        self.lock = threading.RLock()
        self.revalidated = 0  # transactions re-applied by the last tip change (what incremental bounds)
        self.sweep_cursor = b""

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
            raise MempoolError(
                "txn-mempool-conflict", "a pending transaction has this nonce and an equal or higher fee"
            )
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

    def _trim_to_size(self, new_txid: bytes | None) -> None:
        while self.total_bytes > self.max_bytes:
            tails = [self.entries[p[max(p)]] for p in self.by_sender.values()]
            victim = min(tails, key=lambda e: (e.fee_rate, -e.added_at))
            self._remove(victim.tx.txid)
            if victim.tx.txid == new_txid:
                raise MempoolError("mempool-full", "fee rate too low to enter a full mempool")

    # ------------------------------------------------------------ chain updates
    def update_for_chain_change(self, disconnected: list[Block], connected: list[Block]) -> None:
        """After the tip moved: drop mined transactions, re-admit the disconnected ones, and re-check the
        pending chains of the senders those blocks touched — only those (Core's removeForBlock /
        removeForReorg). Work is linear in the blocks' transactions plus the touched senders' pending
        chains, not in the mempool's size: a full mempool does not slow block connect down.

        Signatures are not checked again: `check_transaction` is context-free, and every candidate
        passed it (in a block or at admission). Transactions of untouched senders may have become
        invalid through height alone (a closed window); templates skip those (`select_applicable`), and
        a small round-robin sweep re-checks a few untouched senders per tip change so none linger."""
        if not disconnected and not connected:
            return
        with self.lock:
            mined = {tx.txid for block in connected for tx in block.txs[1:]}
            returning = [tx for block in reversed(disconnected) for tx in block.txs[1:] if tx.txid not in mined]
            touched = {tx.sender for block in (*disconnected, *connected) for tx in block.txs[1:]}
            for txid in mined & self.entries.keys():
                self._remove(txid)
            extra: dict[bytes, list[Transaction]] = {}
            for tx in returning:
                extra.setdefault(tx.sender, []).append(tx)
            self.revalidated = 0
            for sender in sorted(touched):
                self._revalidate_sender(sender, extra.get(sender, []))
            for sender in self._next_sweep(touched):
                self._revalidate_sender(sender, [])
            self._trim_to_size(None)

    def _next_sweep(self, touched: set[bytes]) -> list[bytes]:
        """Up to SWEEP_SENDERS untouched senders, continuing where the last sweep stopped."""
        senders = sorted(s for s in self.by_sender if s not in touched)
        after = [s for s in senders if s > self.sweep_cursor] + [s for s in senders if s <= self.sweep_cursor]
        chosen = after[:SWEEP_SENDERS]
        if chosen:
            self.sweep_cursor = chosen[-1]
        return chosen

    def _revalidate_sender(self, sender: bytes, returning: list[Transaction]) -> None:
        """Rebuild one sender's pending chain on the tip: returning transactions (from disconnected
        blocks) and pending ones in nonce order, kept while they apply one after another."""
        pending = self.get_sender_chain(sender)
        candidates: dict[int, Transaction] = {}
        for tx in [*returning, *pending]:
            if tx.nonce not in candidates or tx.fee > candidates[tx.nonce].fee:
                candidates[tx.nonce] = tx
        overlay = StateOverlay(self.chainstate)
        height = self.chainstate.height + 1
        expected = get_account(overlay, sender).nonce
        kept: list[Transaction] = []
        for nonce in sorted(candidates):
            if nonce < expected:
                continue  # this nonce is mined already
            if nonce != expected or len(kept) >= MAX_PENDING_PER_SENDER:
                break
            self.revalidated += 1
            try:
                apply_transaction(self.params, overlay, candidates[nonce], height)
            except HashgradError:
                break  # a later nonce cannot follow a failed one
            kept.append(candidates[nonce])
            expected += 1
        keep = {tx.txid for tx in kept}
        for tx in pending:
            if tx.txid not in keep:
                self._remove(tx.txid)
        for tx in kept:
            if tx.txid not in self.entries:
                self._insert(tx)

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
            return {
                "size": len(self.entries),
                "bytes": self.total_bytes,
                "maxmempool": self.max_bytes,
                "minrelaytxfeerate": self.min_fee_rate,
                "senders": len(self.by_sender),
            }
