"""`hashgrad miner --job 1 --device cpu` against a real regtest node: the inference miner registers on
job 1, serves job 0's recorded checkpoint on the device it was given, and announces its endpoint.

A staked hotkey attests a checkpoint on job 0 (its bytes stored on the node); the test mines a block
whenever the role's transactions wait, until the endpoint is on chain, then asks the server there
which checkpoint it serves. (An unknown device and `--device cuda` without a GPU are refused before
any node is contacted: tests/roles/test_inference_device.py.)
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.request

import pytest

from functional.framework import TestNode
from functional.role_helpers import COIN, BlockMaker, Role, fund, role_command, stop_all
from functional.web_helpers import build_regtest_chain
from hashgrad.chain.coordination_make import make_attest_checkpoint
from hashgrad.chain.keys import SigningKey
from hashgrad.roles.keys import RoleKeys
from hashgrad.work.data import build_dataset, get_stdlib_dir, save_dataset
from hashgrad.work.model import MODEL_PRESETS, Checkpoint, checkpoint_hash, compute_initial_state, encode_checkpoint


def record_checkpoint(node: TestNode) -> tuple[bytes, SigningKey]:
    """A tiny checkpoint stored on the node and recorded for job 0 by its only staked hotkey; its hash,
    and the coldkey that holds the chain's mined coins."""
    chain = build_regtest_chain(node, 1)
    attester = chain.hotkeys[0]
    fund(node, chain.coldkey, [(attester.pubkey, COIN)])  # its fee money
    data = encode_checkpoint(Checkpoint(MODEL_PRESETS["tiny"], compute_initial_state(MODEL_PRESETS["tiny"], 11)))
    node.putartifact(base64.b64encode(data).decode())
    epoch = node.getjob(0)["next_block_epoch"]
    digest = checkpoint_hash(data)
    chain.submit(make_attest_checkpoint(attester, node.params.magic, chain.next_nonce(attester), 0, epoch, digest))
    node.generate(1)
    assert node.getjob(0)["checkpoint"]["hash"] == digest.hex()
    return digest, chain.coldkey


def get_health(endpoint: str) -> dict:
    with urllib.request.urlopen(f"http://{endpoint}/health", timeout=30) as reply:
        return json.loads(reply.read())


@pytest.mark.timeout(180)
def test_inference_miner_serves_on_the_device_it_was_given(tmp_path):
    node = TestNode(0, tmp_path)
    roles: list[Role] = []
    try:
        node.start()
        digest, faucet = record_checkpoint(node)
        keys = RoleKeys(SigningKey.generate(), SigningKey.generate())
        keys.save(tmp_path / "server.json")
        fund(node, faucet, [(keys.coldkey.pubkey, 2 * COIN), (keys.hotkey.pubkey, COIN)])
        manifest = save_dataset(build_dataset(get_stdlib_dir() / "email", 1056), tmp_path / "data" / "manifest.json")
        command = role_command(node, "miner", tmp_path / "server.json", manifest, "--job", "1", "--device", "cpu")
        roles.append(Role("inference miner", [sys.executable, "-m", "hashgrad", *command], tmp_path / "server.log"))
        maker = BlockMaker(node, roles)

        def get_endpoint() -> str | None:
            mine = [u for u in maker.client.get_metagraph(1).uids if u.hotkey == keys.hotkey.pubkey]
            return mine[0].endpoint if mine else None

        maker.mine_until(get_endpoint, "the inference miner's endpoint on chain")
        assert get_health(get_endpoint())["checkpoint"] == digest.hex()
        assert "serving on 127.0.0.1" in roles[0].read_log() and "(honest, on cpu)" in roles[0].read_log()
    finally:
        stop_all(roles)
        node.cleanup()
