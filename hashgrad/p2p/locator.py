"""Block locators and the headers that follow one, read from the chainstate's active chain.

A locator names our chain compactly: the last ten block hashes, then hashes at exponentially
growing steps back, then genesis (Bitcoin's CChain::GetLocator). The peer answering a getheaders
finds the newest locator hash on its own active chain (the fork point) and sends the headers after
it. These functions read the chainstate (SQLite included), so async callers run them through the
node's `run_blocking`, serialized with every other ledger call.
"""

from __future__ import annotations

from hashgrad.chain.hashes import ZERO_HASH
from hashgrad.chain.header import HEADER_SIZE
from hashgrad.p2p.wire import MAX_HEADERS_PER_MESSAGE, MAX_LOCATOR_HASHES


def compute_locator_heights(height: int) -> list[int]:
    """Heights named by the locator of a chain whose tip is at `height` (tip first, genesis last)."""
    heights, step, current = [], 1, height
    while current > 0:
        heights.append(current)
        if len(heights) >= 10:
            step *= 2
        current -= step
    heights.append(0)
    return heights[:MAX_LOCATOR_HASHES]


def get_block_locator(chainstate, tip_hash: bytes | None = None) -> list[bytes]:
    """The locator of our active chain, optionally headed by `tip_hash` (a header we are continuing from)."""
    active = list(chainstate.active)
    locator = [active[h] for h in compute_locator_heights(len(active) - 1)]
    if tip_hash is not None and tip_hash not in locator:
        locator = [tip_hash] + locator[: MAX_LOCATOR_HASHES - 1]
    return locator


def find_fork_height(chainstate, locator) -> int:
    """Height of the first locator hash on our active chain (0, genesis, when none is)."""
    for block_hash in locator:
        entry = chainstate.index.get(block_hash)
        if entry is not None and chainstate.is_on_active_chain(entry):
            return entry.height
    return 0


def get_header_bytes(chainstate, block_hash: bytes) -> bytes | None:
    """The 80 header bytes of a stored block without reading its body (a block starts with its header)."""
    row = chainstate.db.execute(
        "SELECT substr(data, 1, ?) FROM blocks WHERE hash=?", (HEADER_SIZE, block_hash)
    ).fetchone()
    return bytes(row[0]) if row else None


def find_headers_after_locator(
    chainstate, locator, stop_hash: bytes = ZERO_HASH, limit: int = MAX_HEADERS_PER_MESSAGE
) -> list[bytes]:
    """Serialized headers of our active chain after the locator's fork point, up to `stop_hash` or `limit`."""
    active = list(chainstate.active)
    start = find_fork_height(chainstate, locator) + 1
    out = []
    for block_hash in active[start : start + limit]:
        out.append(get_header_bytes(chainstate, block_hash))
        if block_hash == stop_hash:
            break
    return out
