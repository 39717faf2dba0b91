"""Bookkeeping of block downloads: which blocks each peer can give us, and which are in flight.

Headers tell us which blocks a peer has; their hashes queue per peer in chain order. Requests are
taken from the front of a peer's queue in windows (at most `window` blocks in flight per peer),
skipping blocks we already have or have asked someone else for, so a block is requested from one
peer at a time. No I/O here: the sync layer asks what to request and says what arrived.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable

DEFAULT_WINDOW = 16


class BlockDownloader:
    def __init__(self, window: int = DEFAULT_WINDOW, clock=time.monotonic):
        self.window = window
        self.clock = clock
        self.queues: dict[Hashable, deque[bytes]] = {}
        self.queued: dict[Hashable, set[bytes]] = {}
        self.in_flight: dict[bytes, tuple[Hashable, float]] = {}
        self.by_peer: dict[Hashable, set[bytes]] = {}

    def add_wanted(self, peer_id: Hashable, hashes) -> int:
        """Queue blocks this peer can serve (in chain order); returns how many were new to its queue."""
        queue = self.queues.setdefault(peer_id, deque())
        queued = self.queued.setdefault(peer_id, set())
        added = 0
        for block_hash in hashes:
            if block_hash not in queued:
                queue.append(block_hash)
                queued.add(block_hash)
                added += 1
        return added

    def take_requests(self, peer_id: Hashable, is_needed: Callable[[bytes], bool]) -> list[bytes]:
        """The next blocks to ask this peer for (filling its window), now marked in flight."""
        queue = self.queues.get(peer_id)
        flying = self.by_peer.setdefault(peer_id, set())
        out: list[bytes] = []
        now = self.clock()
        while queue and len(flying) < self.window:
            block_hash = queue.popleft()
            self.queued[peer_id].discard(block_hash)
            if block_hash in self.in_flight or not is_needed(block_hash):
                continue
            self.in_flight[block_hash] = (peer_id, now)
            flying.add(block_hash)
            out.append(block_hash)
        return out

    def mark_received(self, block_hash: bytes) -> Hashable | None:
        """Forget a block's request; returns the peer it was asked from (None if unrequested)."""
        flight = self.in_flight.pop(block_hash, None)
        if flight is None:
            return None
        self.by_peer.get(flight[0], set()).discard(block_hash)
        return flight[0]

    def mark_not_found(self, peer_id: Hashable, hashes) -> None:
        for block_hash in hashes:
            flight = self.in_flight.get(block_hash)
            if flight is not None and flight[0] == peer_id:
                self.mark_received(block_hash)

    def remove_peer(self, peer_id: Hashable) -> list[bytes]:
        """Drop a peer's queue and requests; returns the blocks that were in flight from it."""
        self.queues.pop(peer_id, None)
        self.queued.pop(peer_id, None)
        released = list(self.by_peer.pop(peer_id, set()))
        for block_hash in released:
            self.in_flight.pop(block_hash, None)
        return released

    def count_in_flight(self, peer_id: Hashable) -> int:
        return len(self.by_peer.get(peer_id, ()))

    def count_queued(self, peer_id: Hashable) -> int:
        return len(self.queues.get(peer_id, ()))

    def is_in_flight(self, block_hash: bytes) -> bool:
        return block_hash in self.in_flight

    def find_stalled(self, timeout_s: float) -> list[Hashable]:
        """Peers holding a request older than `timeout_s`."""
        deadline = self.clock() - timeout_s
        return sorted({peer for peer, requested_at in self.in_flight.values() if requested_at < deadline}, key=str)
