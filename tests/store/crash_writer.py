"""A ledger writer for the crash test: mines regtest blocks carrying random transfers into DATADIR
until the tip reaches STOP_HEIGHT, printing `height N` after every block.

    python -m store.crash_writer DATADIR SEED STOP_HEIGHT      (with tests/ on PYTHONPATH)

The crash test SIGKILLs it at random moments and restarts it on the same datadir; it resumes from
whatever tip the store reopens with (its mempool is lost, so nonces come from the chain state).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from hashgrad.chain.state import get_account
from hashgrad.errors import HashgradError
from hashgrad.node.ledger import Ledger
from support.ledger import FEE, PARAMS, make_key, make_transfer

KEYS = [make_key(200 + i) for i in range(8)]


def submit_random_transfers(ledger: Ledger, rng: random.Random) -> None:
    for key in rng.sample(KEYS, rng.randint(0, 5)):
        account = get_account(ledger.chainstate, key.pubkey)
        if account.balance <= 2 * FEE:
            continue
        nonce = ledger.mempool.get_next_nonce(key.pubkey)
        amount = rng.randint(1, account.balance // 4 + 1)
        try:
            ledger.submit_transaction(make_transfer(key, nonce, rng.choice(KEYS).pubkey, amount))
        except HashgradError:
            pass  # the sender's pending chain already spends too much: skip it


def main(argv: list[str]) -> int:
    datadir, seed, stop_height = Path(argv[0]), int(argv[1]), int(argv[2])
    ledger = Ledger(PARAMS, datadir)
    ledger.clock = lambda: ledger.chainstate.tip.time + 60  # block times follow the chain, not the wall
    rng = random.Random(seed)
    try:
        while ledger.chainstate.height < stop_height:
            submit_random_transfers(ledger, rng)
            ledger.generate(1, rng.choice(KEYS).pubkey)
            print(f"height {ledger.chainstate.height}", flush=True)
    finally:
        ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
