"""CPU proof-of-work grinding: try nonces until the header hash meets the target.

Runs in a worker thread or process, never on an event loop. At regtest/devnet difficulty a block
takes about two hashes; the `should_stop` callback lets a caller abandon a stale template.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable

from hashgrad.chain.block import Block
from hashgrad.chain.pow import compute_target


def grind_block(
    block: Block, pow_limit: int, max_tries: int = 1 << 32, should_stop: Callable[[], bool] | None = None
) -> Block | None:
    """The block with a nonce that meets its bits, or None if stopped or out of tries."""
    header = block.header
    target = compute_target(header.bits, pow_limit)
    prefix = header.serialize()[:76]
    sha256 = hashlib.sha256
    pack = struct.Struct("<I").pack
    for nonce in range(header.nonce, min(header.nonce + max_tries, 1 << 32)):
        digest = sha256(sha256(prefix + pack(nonce)).digest()).digest()
        if int.from_bytes(digest, "little") <= target:
            return Block(header.with_nonce(nonce), block.txs, block.auxpow)
        if should_stop is not None and nonce & 0xFFFF == 0xFFFF and should_stop():
            return None
    return None
