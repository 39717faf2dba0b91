"""An inference miner waits out a checkpoint that the chain recorded before its node holds the bytes.

A real regtest node: a staked hotkey attests a checkpoint hash whose artifact the node has never seen
(in a devnet it is still travelling from the validator's node), so `getartifact` answers
`artifact-not-found`. `wait_for_checkpoint` must keep polling rather than die, and return the
checkpoint once the bytes arrive.
"""

from __future__ import annotations

import base64
import threading

from functional.framework import TestNode, wait_until
from functional.web_helpers import build_regtest_chain
from hashgrad.chain.coordination_make import make_attest_checkpoint
from hashgrad.chain.params import COIN
from hashgrad.chain.tx import make_transfer
from hashgrad.errors import RpcError
from hashgrad.roles.inference import InferenceValidator, wait_for_checkpoint
from hashgrad.work.model import MODEL_PRESETS, Checkpoint, checkpoint_hash, compute_initial_state, encode_checkpoint


def test_recorded_checkpoint_is_awaited_until_its_bytes_arrive(tmp_path):
    node = TestNode(0, tmp_path)
    try:
        node.start()
        chain = build_regtest_chain(node, 1)
        validator = chain.hotkeys[0]  # the only staked hotkey: its attestation alone is a majority
        data = encode_checkpoint(Checkpoint(MODEL_PRESETS["tiny"], compute_initial_state(MODEL_PRESETS["tiny"], 7)))
        digest = checkpoint_hash(data)
        chain.submit(
            make_transfer(
                chain.coldkey, node.params.magic, chain.next_nonce(chain.coldkey), validator.pubkey, COIN, 1_000
            )
        )
        node.generate(1)
        epoch = node.getjob(0)["next_block_epoch"]
        chain.submit(
            make_attest_checkpoint(validator, node.params.magic, chain.next_nonce(validator), 0, epoch, digest)
        )
        node.generate(1)
        assert node.getjob(0)["checkpoint"]["hash"] == digest.hex()
        try:
            node.getartifact(digest.hex())
            raise AssertionError("the node should not hold the checkpoint yet")
        except RpcError as exc:
            assert exc.reason == "artifact-not-found"

        client = node.connect()
        # the inference validator's epoch step does not block on it (it used to wait up to 600 s)
        validator_role = InferenceValidator(client, None, None, None, 0, checkpoint_wait_s=1.0)
        assert validator_role.get_round_checkpoint() is None
        result, done = [], threading.Event()
        waiter = threading.Thread(
            target=lambda: (result.append(wait_for_checkpoint(client, done.is_set, 60)), done.set()), daemon=True
        )
        waiter.start()
        waiter.join(3.0)
        assert waiter.is_alive() and not result, "the waiter must poll on, not fail or return early"
        node.putartifact(base64.b64encode(data).decode())
        wait_until(lambda: bool(result), 30, "the checkpoint once its bytes arrived")
        checkpoint, got = result[0]
        assert got == digest and checkpoint.config == MODEL_PRESETS["tiny"]
        assert validator_role.get_round_checkpoint()[1] == digest
    finally:
        node.cleanup()
