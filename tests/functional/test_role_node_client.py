"""A role process's conversation with its node through the one typed client, on a real regtest node.

The client is made as `hashgrad miner`/`validator` make it (`connect_node` from the datadir's
cookie); the role steps register the hotkey (paying the burn), stake it, read the epoch clock, and
put work on chain; every read comes back typed: the job's burn and clock, the account's uid and
stake, the epoch's commits, the metagraph's hotkeys. A node of another network is refused.
"""

from __future__ import annotations

import threading

from functional.framework import TestNode
from hashgrad.chain.coordination import compute_work_commitment
from hashgrad.chain.coordination_make import make_commit_work
from hashgrad.chain.coordination_rules import get_job_params
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import COIN
from hashgrad.chain.tx import make_transfer
from hashgrad.errors import HashgradError
from hashgrad.node.client import connect_node
from hashgrad.roles.common import EpochClock, ensure_registered, ensure_stake, get_registration
from hashgrad.roles.keys import RoleKeys


def run_while_mining(node: TestNode, fn):
    """fn() in a thread while the node makes a block every poll (regtest mines only on demand)."""
    result, errors = [], []
    thread = threading.Thread(target=lambda: _capture(fn, result, errors), daemon=True)
    thread.start()
    while thread.is_alive():
        node.generate(1)
        thread.join(0.3)
    assert not errors, errors
    return result[0] if result else None


def _capture(fn, result, errors) -> None:
    try:
        result.append(fn())
    except Exception as exc:  # reported by the caller's assertion
        errors.append(exc)


def test_role_registers_stakes_and_commits_through_the_typed_client(tmp_path):
    node = TestNode(0, tmp_path)
    try:
        node.start()
        keys = RoleKeys(SigningKey.generate(), SigningKey.generate())
        keys.save(tmp_path / "keys.json")
        keys = RoleKeys.load(tmp_path / "keys.json")
        client = connect_node("regtest", node.datadir, node.rpc_port)
        assert client.check_network().chain == "regtest"
        node.generate(3, client.get_address(keys.coldkey.pubkey))
        client.submit_built(make_transfer, keys.coldkey, keys.hotkey.pubkey, COIN, 1_000)  # the hotkey's fees
        job = get_job_params(client.params, 0)
        stop = lambda: False  # noqa: E731

        uid = run_while_mining(node, lambda: ensure_registered(client, keys, job, stop, timeout=30))
        assert uid == 0 and get_registration(client, keys, 0) == 0
        run_while_mining(node, lambda: ensure_stake(client, keys, 2 * COIN, stop, timeout=30))
        assert client.get_account_of(keys.hotkey.pubkey).stake == 2 * COIN
        neuron = client.get_metagraph(0).uids[0]
        assert neuron.hotkey == keys.hotkey.pubkey and neuron.stake == 2 * COIN and neuron.epoch == -1

        clock = EpochClock.read(client, job)
        while clock.offset >= job.work_commit_end:  # the next block must fall in the work-commit window
            node.generate(1)
            clock = EpochClock.read(client, job)
        artifact_id, base = bytes([7]) * 32, bytes([9]) * 32
        client.submit_built(make_commit_work, keys.hotkey, 0, clock.epoch, artifact_id, base)
        node.generate(1)
        epoch = client.get_epoch(0, clock.epoch)
        assert [c.uid for c in epoch.work_commits] == [0]
        expected = compute_work_commitment(artifact_id, keys.hotkey.pubkey, clock.epoch, 0, base)
        assert epoch.work_commits[0].commitment == expected
        assert epoch.seed is not None and len(epoch.seed) == 32

        other = connect_node("devnet", node.datadir, node.rpc_port)
        try:
            other.check_network()
            raise AssertionError("a devnet client must refuse a regtest node")
        except HashgradError as exc:
            assert exc.reason == "network-mismatch"
    finally:
        node.cleanup()
