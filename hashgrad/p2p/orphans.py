"""Orphan transactions: relayed transactions that wait for their parent, as Bitcoin Core's TxOrphanage.

In an account ledger a transaction's "parent" is what makes it apply: the sender's previous nonce
(the mempool refuses with `bad-txns-nonce-gap`) or the transfer that funds the sender
(`bad-txns-balance`; the mempool checks a sender's balance at the tip, so that cure comes with the
block that mines the funding). Such a transaction often arrives first when relay races; instead of
dropping it, ChainSync keeps it here and tries it again when a transaction from its sender or
paying its sender is admitted, and whenever the tip moves. The pool is bounded (count, size per transaction, age) and
forgets a peer's orphans when the peer goes; all of it runs on the event loop.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from hashgrad.chain.tx import Transaction, decode_payload
from hashgrad.errors import HashgradError

MISSING_PARENT_REASONS = frozenset({"bad-txns-nonce-gap", "bad-txns-balance"})
MAX_ORPHANS = 100  # Core's DEFAULT_MAX_ORPHAN_TRANSACTIONS
MAX_ORPHAN_TX_SIZE = 100_000  # Core keeps no orphan over 100 kB
ORPHAN_EXPIRE_S = 20 * 60  # Core's ORPHAN_TX_EXPIRE_TIME


def is_missing_parent(error: HashgradError) -> bool:
    """A refusal a parent that has not reached us yet would cure."""
    return error.reason in MISSING_PARENT_REASONS


def get_recipient(tx: Transaction) -> bytes | None:
    try:
        return getattr(decode_payload(tx), "recipient", None)
    except HashgradError:
        return None


@dataclass(frozen=True)
class Orphan:
    tx: Transaction
    peer_id: int
    expires_at: float


class OrphanPool:
    def __init__(
        self, max_count: int = MAX_ORPHANS, max_tx_size: int = MAX_ORPHAN_TX_SIZE, expire_s: float = ORPHAN_EXPIRE_S
    ):
        self.max_count = max_count
        self.max_tx_size = max_tx_size
        self.expire_s = expire_s
        self.entries: OrderedDict[bytes, Orphan] = OrderedDict()  # oldest first

    def __contains__(self, txid: bytes) -> bool:
        return txid in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, tx: Transaction, peer_id: int, now: float) -> bool:
        """Keep `tx` (False when it is too big or already kept); the oldest goes when the pool is full."""
        if tx.size > self.max_tx_size or tx.txid in self.entries:
            return False
        self.expire(now)
        self.entries[tx.txid] = Orphan(tx, peer_id, now + self.expire_s)
        while len(self.entries) > self.max_count:
            self.entries.popitem(last=False)
        return True

    def expire(self, now: float) -> None:
        for txid in [t for t, o in self.entries.items() if o.expires_at <= now]:
            del self.entries[txid]

    def take_children(self, parent: Transaction) -> list[Orphan]:
        """Remove and return the orphans `parent` may cure: same sender, or the sender it pays."""
        recipient = get_recipient(parent)
        found = [o for o in self.entries.values() if o.tx.sender in (parent.sender, recipient)]
        for orphan in found:
            del self.entries[orphan.tx.txid]
        return sorted(found, key=lambda o: (o.tx.sender, o.tx.nonce))

    def take_all(self) -> list[Orphan]:
        found = sorted(self.entries.values(), key=lambda o: (o.tx.sender, o.tx.nonce))
        self.entries.clear()
        return found

    def remove_peer(self, peer_id: int) -> None:
        for txid in [t for t, o in self.entries.items() if o.peer_id == peer_id]:
            del self.entries[txid]
