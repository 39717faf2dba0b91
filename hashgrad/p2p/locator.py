"""Block locators and the headers that follow one, read from the chainstate's active chain.

A locator names our chain compactly: the last ten block hashes, then hashes at exponentially
growing steps back, then genesis (Bitcoin's CChain::GetLocator). The peer answering a getheaders
finds the newest locator hash on its own active chain (the fork point) and sends the headers after
it, each merge-mined one with its AuxPoW proof. These functions read the chainstate (SQLite
included), so async callers run them through the node's `run_blocking`, serialized with every other
ledger call.
"""

from __future__ import annotations

from hashgrad.chain.auxpow import MAX_AUXPOW_SIZE, read_auxpow
from hashgrad.chain.encoding import ByteReader
from hashgrad.chain.hashes import ZERO_HASH
from hashgrad.chain.header import HEADER_SIZE, BlockHeader
from hashgrad.errors import DecodeError
from hashgrad.p2p.wire import HEADERS_SEND_BUDGET, MAX_HEADERS_PER_MESSAGE, MAX_LOCATOR_HASHES

_AUXPOW_FIRST_READ = 4096  # a pool's proof is usually well under 1 kB


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
    return _read_block_prefix(chainstate, block_hash, HEADER_SIZE)


def _read_block_prefix(chainstate, block_hash: bytes, size: int) -> bytes | None:
    row = chainstate.db.execute("SELECT substr(data, 1, ?) FROM blocks WHERE hash=?", (size, block_hash)).fetchone()
    return bytes(row[0]) if row else None


def get_headers_entry(chainstate, block_hash: bytes) -> bytes | None:
    """A stored block's `headers` entry: its 80 header bytes, then, when merge-mined, its CAuxPow.

    A stored block is header | CAuxPow (when flagged) | transactions, so the proof is the bytes
    after the header that `read_auxpow` consumes; a first short read covers a usual proof, a longer
    one (up to MAX_AUXPOW_SIZE) only a large one, and the transactions are never read."""
    header = get_header_bytes(chainstate, block_hash)
    if header is None or not BlockHeader.deserialize(header).is_auxpow():
        return header
    for size in (HEADER_SIZE + _AUXPOW_FIRST_READ, HEADER_SIZE + MAX_AUXPOW_SIZE):
        prefix = _read_block_prefix(chainstate, block_hash, size)
        reader = ByteReader(prefix, HEADER_SIZE)
        try:
            read_auxpow(reader)
        except DecodeError:
            if len(prefix) < size:
                raise  # the whole block was read: it cannot be a stored (once valid) block
            continue
        return prefix[: reader.pos]
    raise DecodeError("bad-auxpow-length", f"stored proof of {block_hash[::-1].hex()} over {MAX_AUXPOW_SIZE} bytes")


def find_headers_after_locator(
    chainstate, locator, stop_hash: bytes = ZERO_HASH, limit: int = MAX_HEADERS_PER_MESSAGE
) -> list[bytes]:
    """`headers` entries (each header with its proof when merge-mined) of our active chain after the
    locator's fork point, up to `stop_hash`, `limit` entries, or past HEADERS_SEND_BUDGET bytes."""
    active = list(chainstate.active)
    start = find_fork_height(chainstate, locator) + 1
    out, size = [], 0
    for block_hash in active[start : start + limit]:
        entry = get_headers_entry(chainstate, block_hash)
        out.append(entry)
        size += len(entry)
        if block_hash == stop_hash or size > HEADERS_SEND_BUDGET:
            break
    return out
