"""The process the reliability bench SIGKILLs: a regtest ledger that connects blocks carrying random
transfers, and now and then accepts a competing branch that is longer (a reorg) or a run of blocks
made elsewhere (what a sync feeds it), printing `height H` after every accepted block.

    python bench/reliability_crash_writer.py DATADIR SEED     (tests/ on PYTHONPATH for the builders)

It runs until killed; on restart it continues from whatever tip the store reopens with.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from hashgrad.chain.state import get_account
from hashgrad.errors import HashgradError
from hashgrad.node.ledger import Ledger
from support.ledger import FEE, PARAMS, make_block, make_key, make_transfer

KEYS = [make_key(500 + i) for i in range(8)]


def submit_transfers(ledger: Ledger, rng: random.Random) -> None:
    for key in rng.sample(KEYS, rng.randint(0, 4)):
        account = get_account(ledger.chainstate, key.pubkey)
        if account.balance <= 4 * FEE:
            continue
        nonce = ledger.mempool.get_next_nonce(key.pubkey)
        try:
            ledger.submit_transaction(
                make_transfer(key, nonce, rng.choice(KEYS).pubkey, rng.randint(1, account.balance // 4))
            )
        except HashgradError:
            pass


def make_branch(ledger: Ledger, rng: random.Random, depth: int, length: int) -> list:
    """`length` empty blocks forking `depth` blocks below the tip (longer than what they replace: a reorg)."""
    chainstate = ledger.chainstate
    fork = chainstate.index[chainstate.active[max(0, chainstate.height - depth)]]
    blocks, parent, height, when = [], fork.hash, fork.height, fork.time
    for _ in range(length):
        height, when = height + 1, when + 30
        block = make_block(parent, height, when, (), payout=rng.choice(KEYS).pubkey, extra=rng.randbytes(8))
        blocks.append(block)
        parent = block.hash
    return blocks


def main(argv: list[str]) -> int:
    datadir, seed = Path(argv[0]), int(argv[1])
    ledger = Ledger(PARAMS, datadir)
    ledger.clock = lambda: ledger.chainstate.tip.time + 60
    rng = random.Random(seed)
    try:
        while True:
            roll = rng.random()
            if roll < 0.15 and ledger.chainstate.height > 3:  # reorg: a longer branch from 1-3 below the tip
                depth = rng.randint(1, 3)
                blocks = make_branch(ledger, rng, depth, depth + 1)
            elif roll < 0.3:  # sync: a run of blocks made elsewhere, on our tip
                blocks = make_branch(ledger, rng, 0, rng.randint(2, 5))
            else:
                submit_transfers(ledger, rng)
                ledger.generate(1, rng.choice(KEYS).pubkey)
                blocks = []
            for block in blocks:
                ledger.submit_block(block)
            print(f"height {ledger.chainstate.height}", flush=True)
    finally:
        ledger.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
