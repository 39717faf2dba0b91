"""The regtest/devnet block maker: one block every `interval_s` seconds, paid to a payout key.

Like bitcoind's `generate`, it paces blocks on a timer so the cores stay free for training; the grind
itself (about two hashes at minimum difficulty) and the block's SQLite commit run on the node's
worker thread through `run_blocking`, never on the event loop. The new block reaches peers through
the ledger's listeners, like any other tip change.
"""

from __future__ import annotations

import logging

from hashgrad.chain.hashes import hash_to_display
from hashgrad.errors import HashgradError

log = logging.getLogger("hashgrad.blockmaker")


class BlockMaker:
    def __init__(self, node, interval_s: float, payout: bytes):
        if not node.params.mine_on_demand:
            raise HashgradError("mining-not-allowed", f"the block maker is for regtest/devnet, not {node.params.name}")
        if interval_s <= 0:
            raise HashgradError("bad-mine-interval", f"interval must be positive, got {interval_s}")
        self.node = node
        self.interval_s = interval_s
        self.payout = payout
        self.blocks_made = 0

    async def run(self) -> None:
        log.info("making a block every %.3g s", self.interval_s)
        while not await self.node.sleep_unless_stopped(self.interval_s):
            await self.make_block()

    async def make_block(self) -> bytes | None:
        try:
            hashes = await self.node.run_blocking(self.node.ledger.generate, 1, self.payout)
        except HashgradError as exc:
            log.warning("block making failed: %s", exc)
            return None
        self.blocks_made += 1
        log.info("made block %s at height %d", hash_to_display(hashes[0]), self.node.ledger.chainstate.height)
        return hashes[0]
