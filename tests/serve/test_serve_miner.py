"""hashgrad.serve.miner against a real regtest node process: a miner following the chain moves to the
checkpoint job 0 records (a staked validator attests it), fetched from the node by hash; the stale
adversary keeps serving the one before."""

from __future__ import annotations

import asyncio
import base64

import pytest

from functional.framework import TestNode
from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.coordination_make import make_attest_checkpoint, make_register, make_stake
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import COIN
from hashgrad.chain.tx import make_transfer
from hashgrad.serve.miner import ChainFollow, build_miner_backend, follow_chain
from hashgrad.serve.server import InferenceServer, ServerConfig
from hashgrad.work.model import checkpoint_hash

pytestmark = pytest.mark.functional

COLD, HOT = SigningKey(b"\x31" * 32), SigningKey(b"\x32" * 32)
FEE = 10_000


@pytest.fixture
def node(tmp_path):
    made = TestNode(0, tmp_path)
    made.start()
    try:
        yield made
    finally:
        made.cleanup()


def send(node: TestNode, key: SigningKey, build, *args, **kwargs) -> None:
    nonce = node.getaccount(encode_address(node.params.hrp, key.pubkey))["pending_nonce"]
    node.sendrawtransaction(build(key, node.params.magic, nonce, *args, **kwargs).serialize().hex())


def record_checkpoint(node: TestNode, data: bytes, epoch: int) -> bytes:
    """Store `data` on the node and have the staked validator attest it as the base of `epoch`."""
    assert node.putartifact(base64.b64encode(data).decode())["artifact_id"] == checkpoint_hash(data).hex()
    send(node, HOT, make_attest_checkpoint, 0, epoch, checkpoint_hash(data))
    node.generate(1, encode_address(node.params.hrp, COLD.pubkey))
    return checkpoint_hash(data)


async def follow_until(
    server: InferenceServer, follow: ChainFollow, start, start_digest: bytes, served: bytes, timeout: float = 30.0
) -> None:
    task = asyncio.create_task(follow_chain(server, follow, start, start_digest))
    try:
        async with asyncio.timeout(timeout):
            while server.backend.fingerprint != served:
                await asyncio.sleep(0.05)
    finally:
        task.cancel()


def test_follow_chain_serves_the_checkpoint_job_0_records(node, older, current):
    cold_address = encode_address(node.params.hrp, COLD.pubkey)
    node.generate(3, cold_address)
    send(node, COLD, make_transfer, HOT.pubkey, COIN, FEE)
    nonce = node.getaccount(cold_address)["pending_nonce"]
    node.sendrawtransaction(make_register(COLD, HOT, node.params.magic, nonce, 0, COIN).serialize().hex())
    node.generate(1, cold_address)
    send(node, COLD, make_stake, HOT.pubkey, COIN)
    node.generate(1, cold_address)
    older_digest = record_checkpoint(node, older.to_bytes(), 0)
    assert node.getjob(0)["checkpoint"]["hash"] == older_digest.hex()

    server = InferenceServer(build_miner_backend("honest", older, None), ServerConfig(open_access=True))
    stale = InferenceServer(build_miner_backend("stale", older, None), ServerConfig(open_access=True))
    assert server.backend.fingerprint == stale.backend.fingerprint == older_digest  # nothing older: honest
    current_digest = record_checkpoint(node, current.to_bytes(), 1)
    assert node.getjob(0)["checkpoint"]["hash"] == current_digest.hex()

    asyncio.run(follow_until(server, ChainFollow(node.connect(), "honest", 0.05), older, older_digest, current_digest))
    assert server.backend.checkpoint.to_bytes() == current.to_bytes()
    asyncio.run(follow_until(stale, ChainFollow(node.connect(), "stale", 0.05), older, older_digest, current_digest))
    assert stale.backend.checkpoint.to_bytes() == older.to_bytes()  # claims the new hash, serves the old one
