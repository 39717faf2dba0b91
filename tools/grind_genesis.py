#!/usr/bin/env python3
"""Re-grind the genesis nonces in hashgrad/chain/params.py after a change to genesis content
(job definitions, genesis message, time or bits). Prints each network's nonce and rewrites the file.

    .venv/bin/python tools/grind_genesis.py
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from hashgrad.chain.genesis import build_genesis_block
from hashgrad.chain.params import NETWORKS
from hashgrad.chain.pow import compute_target

PARAMS = Path(__file__).resolve().parents[1] / "hashgrad" / "chain" / "params.py"


def grind(params) -> int:
    header = build_genesis_block(params).header
    target = compute_target(header.bits, params.pow.pow_limit)
    prefix = header.serialize()[:76]
    for nonce in range(1 << 32):
        digest = hashlib.sha256(hashlib.sha256(prefix + nonce.to_bytes(4, "little")).digest()).digest()
        if int.from_bytes(digest, "little") <= target:
            return nonce
    raise SystemExit(f"{params.name}: no nonce found; change genesis_time")


def main() -> None:
    text = PARAMS.read_text()
    for params in NETWORKS.values():
        nonce = grind(params)
        print(params.name, nonce)
        text = re.sub(
            rf"genesis_time={params.genesis_time}, genesis_bits=(0x[0-9A-F]+), genesis_nonce=\d+",
            rf"genesis_time={params.genesis_time}, genesis_bits=\1, genesis_nonce={nonce}",
            text,
        )
    PARAMS.write_text(text)


if __name__ == "__main__":
    main()
