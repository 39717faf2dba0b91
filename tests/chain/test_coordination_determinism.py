"""Consensus is bit-identical across processes: two fresh Python processes, with different hash seeds
(so any dependence on set or dict iteration order of bytes would show), connect the same block
sequence — two epochs of a job with random weights, stake moves and registrations — and must end
with the same `state` table, byte for byte, as the process that made the blocks."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys

from hashgrad.chain.coordination import NeuronStats
from support.coordination import COIN, Autopilot, Member
from support.ledger import dump_state

REPLAY = r"""
import hashlib, json, sys
from pathlib import Path
from hashgrad.chain.block import parse_block
from hashgrad.chain.params import get_network
from hashgrad.store.chainstate import ChainState

blocks_path, datadir = Path(sys.argv[1]), Path(sys.argv[2])
chainstate = ChainState(get_network("regtest"), datadir)
for line in blocks_path.read_text().split():
    result = chainstate.accept_block(parse_block(bytes.fromhex(line), 1 << 22), None)
    assert result.status == "connected", result.status
digest = hashlib.sha256()
for key, value in chainstate.db.execute("SELECT key, value FROM state ORDER BY key"):
    digest.update(len(key).to_bytes(4, "little") + key + len(value).to_bytes(4, "little") + value)
print(json.dumps({"tip": chainstate.tip.hash.hex(), "height": chainstate.height, "state": digest.hexdigest()}))
"""


def compute_state_digest(state: dict[bytes, bytes]) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(state.items()):
        digest.update(len(key).to_bytes(4, "little") + key + len(value).to_bytes(4, "little") + value)
    return digest.hexdigest()


def test_process_epoch_is_identical_in_separate_processes(net, tmp_path):
    miners = [Member.named(f"miner{i}") for i in range(4)]
    validators = [Member.named(f"validator{i}") for i in range(3)]
    newcomers = [Member.named(f"newcomer{i}") for i in range(2)]
    net.join([*miners, *validators], stakes={v.name: (3 + i) * COIN for i, v in enumerate(validators)})
    net.fund({n.cold.pubkey: COIN for n in newcomers})
    Autopilot(net, miners, validators, newcomers, random.Random(5)).step(3 * 30 - net.height)
    paid = [NeuronStats.deserialize(v) for k, v in dump_state(net.chainstate).items() if k[:1] == b"E"]
    assert any(stats.epoch == 2 and stats.emission > 0 for stats in paid)  # epochs 1 and 2 were paid

    blocks = tmp_path / "blocks.hex"
    blocks.write_text("\n".join(net.chainstate.get_block_bytes(h).hex() for h in net.chainstate.active[1:]))
    expected = {
        "tip": net.chainstate.tip.hash.hex(),
        "height": net.height,
        "state": compute_state_digest(dump_state(net.chainstate)),
    }
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", REPLAY, str(blocks), str(tmp_path / f"replay{seed}")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )
        assert json.loads(out.stdout.strip().splitlines()[-1]) == expected
