"""A failed audit bites at every validator, through the chain: one real regtest node, two training
validators and two training miners (the real role classes, each in its own thread with its own RPC
client), one miner honest and one a sandbagger (it runs a quarter of its steps and makes up the rest,
milestones included).

Validator A audits every miner (audit probability 1), validator B audits none (probability 0). A
catches the sandbagger, stores the record as an artifact and publishes its id on chain
(PUBLISH_EVIDENCE); B reads it from `getepoch` before it commits, fetches the record, replays it,
and zeroes the sandbagger too. Then both validators' revealed weights leave the sandbagger out, the
chain's Yuma consensus gives it no incentive for the epoch, and the honest miner is paid.

Two more staked validators, driven by the test itself, publish bad evidence against the honest miner:
C a well-formed record that does not hold (A's record pointed at the honest miner's artifact), D bytes
that are not a record. Both validators fetch, log and ignore them: the honest miner keeps its weights.

The test drives the blocks itself (regtest mines on demand), window by window of epoch 1 of job 0
(tempo 30: commit work at offsets [0, 14), reveal [14, 18), weights [18, 26), reveal [26, 30)).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import replace

import pytest

from functional.framework import TestNode, wait_until
from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.coordination_make import make_publish_evidence, make_register, make_stake
from hashgrad.chain.coordination_tx import EvidenceReason
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import COIN
from hashgrad.roles.keys import RoleKeys
from hashgrad.roles.miner import TrainingMiner
from hashgrad.roles.validator import TrainingValidator
from hashgrad.work.data import build_dataset, get_stdlib_dir
from hashgrad.work.miner import set_determinism_pins
from hashgrad.work.model import Checkpoint, compute_initial_state, encode_checkpoint
from hashgrad.work.params import get_preset

EPOCH, TEMPO = 1, 30
STEP_TIMEOUT_S = 120


class Captured(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def tip_for_next_offset(offset: int) -> int:
    """The tip height at which the next block is at `offset` of EPOCH."""
    return EPOCH * TEMPO + offset


def mine_to(node: TestNode, height: int) -> None:
    count = height - node.getblockcount()
    if count > 0:
        node.generate(count)


def submit(node: TestNode, key: SigningKey, build, *args) -> None:
    """Sign `build(key, magic, next nonce, *args)` and send it through the node's RPC, as a wallet does."""
    nonce = node.getaccount(encode_address(node.params.hrp, key.pubkey))["pending_nonce"]
    node.sendrawtransaction(build(key, node.params.magic, nonce, *args).serialize().hex())


def put_artifact(node: TestNode, data: bytes) -> str:
    return node.putartifact(base64.b64encode(data).decode())["artifact_id"]


def mine_when_pending(node: TestNode, count: int, what: str) -> None:
    """Wait until `count` transactions wait in the mempool, then mine them into one block."""
    wait_until(lambda: len(node.getrawmempool()) >= count, STEP_TIMEOUT_S, what)
    node.generate(1)


@pytest.fixture
def captured():
    handler = Captured()
    logger = logging.getLogger("hashgrad.roles")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


def test_evidence_on_chain_zeroes_a_cheater_at_a_validator_that_did_not_audit(node_factory, captured):
    set_determinism_pins()
    node = node_factory(1)[0]
    params = get_preset("tiny")
    dataset = build_dataset(get_stdlib_dir() / "email", params.page_tokens)
    initial = encode_checkpoint(Checkpoint(params.model, compute_initial_state(params.model, 0)))
    job = node.connect().params.jobs[0]
    names = ("A", "B", "honest", "cheat", "C", "D")
    keys = {name: RoleKeys(SigningKey.generate(), SigningKey.generate()) for name in names}
    for role in keys.values():
        for key in (role.coldkey, role.hotkey):
            node.generate(1, encode_address(node.params.hrp, key.pubkey))

    for name in ("C", "D"):  # the bad publishers: registered and staked by hand
        cold, hot = keys[name].coldkey, keys[name].hotkey
        nonce = node.getaccount(encode_address(node.params.hrp, cold.pubkey))["pending_nonce"]
        node.sendrawtransaction(make_register(cold, hot, node.params.magic, nonce, 0, COIN).serialize().hex())
        submit(node, keys[name].coldkey, make_stake, keys[name].hotkey.pubkey, COIN // 10)  # A and B hold the quorum

    stopping = threading.Event()
    roles = {
        "A": TrainingValidator(
            node.connect(), keys["A"], job, replace(params, audit_probability=1.0), dataset, initial, COIN, 0.2
        ),
        "B": TrainingValidator(
            node.connect(), keys["B"], job, replace(params, audit_probability=0.0), dataset, initial, COIN, 0.2
        ),
        "honest": TrainingMiner(node.connect(), keys["honest"], job, params, dataset, "honest", 0.2),
        "cheat": TrainingMiner(node.connect(), keys["cheat"], job, params, dataset, "sandbagger", 0.2),
    }
    threads = [threading.Thread(target=r.run, args=(stopping.is_set,), daemon=True) for r in roles.values()]
    for thread in threads:
        thread.start()
    try:
        # epoch 0: registrations and stake, mined as they arrive; then the end of epoch 0
        def is_set_up() -> bool:
            metagraph = node.getmetagraph(0)["uids"]
            staked = sum(1 for u in metagraph if u["stake"] > 0)
            if len(metagraph) < 6 or staked < 4:
                node.generate(1)
                time.sleep(0.3)
                return False
            return True

        wait_until(is_set_up, STEP_TIMEOUT_S, "registrations and stake")
        assert node.getblockcount() < tip_for_next_offset(0) - 2
        uids = {u["hotkey"]: u["uid"] for u in node.getmetagraph(0)["uids"]}
        uid = {name: uids[k.hotkey.pubkey.hex()] for name, k in keys.items()}
        mine_to(node, tip_for_next_offset(0))

        # epoch 1: the validators attest its base; the miners train and commit, then reveal
        mine_when_pending(node, 2, "base attestations")
        assert node.getepoch(0, EPOCH)["checkpoint"] is not None
        mine_when_pending(node, 2, "work commits")
        assert len(node.getepoch(0, EPOCH)["work_commits"]) == 2
        mine_to(node, tip_for_next_offset(job.work_commit_end))
        mine_when_pending(node, 2, "work reveals")
        assert len(node.getepoch(0, EPOCH)["work_reveals"]) == 2

        # the reveal window closes: A audits, catches the sandbagger and publishes the evidence
        mine_to(node, tip_for_next_offset(job.work_reveal_end))
        mine_when_pending(node, 1, "published evidence")
        evidence = node.getepoch(0, EPOCH)["evidence"]
        assert [(e["uid"], e["publisher"], e["reason"]) for e in evidence] == [
            (uid["cheat"], uid["A"], "replay-mismatch")
        ]
        record = json.loads(base64.b64decode(node.getartifact(evidence[0]["evidence_id"])["data"]))
        assert record["uid"] == uid["cheat"] and record["step"] == record["segment"][1]  # anyone can read it
        block = node.getblock(node.getbestblockhash(), 2)
        published = [tx for tx in block["tx"] if tx["kind"] == "publish_evidence"]
        assert [tx["entries"] for tx in published] == [[[uid["cheat"], 1, evidence[0]["evidence_id"]]]]

        # C and D publish evidence against the honest miner that does not hold
        honest = next(r for r in node.getepoch(0, EPOCH)["work_reveals"] if r["uid"] == uid["honest"])
        false_record = dict(record, uid=uid["honest"], miner=keys["honest"].hotkey.pubkey.hex())
        false_record["artifact_id"] = honest["artifact_id"]
        false_id = put_artifact(node, json.dumps(false_record, sort_keys=True, separators=(",", ":")).encode())
        garbage_id = put_artifact(node, b"not an audit record")
        for name, artifact_id in (("C", false_id), ("D", garbage_id)):
            entry = ((uid["honest"], EvidenceReason.REPLAY_MISMATCH, bytes.fromhex(artifact_id)),)
            submit(node, keys[name].hotkey, make_publish_evidence, 0, EPOCH, entry)
        node.generate(1)
        assert len(node.getepoch(0, EPOCH)["evidence"]) == 3

        # the middle of the weights window: both commit (B after re-checking A's record), then reveal
        mine_to(node, tip_for_next_offset((job.work_reveal_end + job.weights_commit_end) // 2))
        mine_when_pending(node, 2, "weight commits")
        mine_to(node, tip_for_next_offset(job.weights_commit_end))
        mine_when_pending(node, 2, "weight reveals")
        reveals = {r["uid"]: dict(r["weights"]) for r in node.getepoch(0, EPOCH)["weight_reveals"]}
        for validator in ("A", "B"):
            assert reveals[uid[validator]].get(uid["cheat"], 0) == 0, reveals
            assert reveals[uid[validator]][uid["honest"]] > 0, reveals
        mine_to(node, (EPOCH + 1) * TEMPO)
    finally:
        stopping.set()
        for thread in threads:
            thread.join(30)

    # B never audited: it convicted the sandbagger on A's record alone, and published nothing itself
    assert any(f"from uid {uid['A']} holds: uid {uid['cheat']} zeroed" in line for line in captured.lines)
    false_from_c = f"from uid {uid['C']} against uid {uid['honest']} does not hold; ignored"
    garbage_from_d = f"from uid {uid['D']} against uid {uid['honest']} ignored: bad-evidence"
    assert sum(false_from_c in line for line in captured.lines) == 2, captured.lines  # at A and at B
    assert sum(garbage_from_d in line for line in captured.lines) == 2, captured.lines
    assert roles["B"].memory.state.ratings[keys["cheat"].hotkey.pubkey].banned
    metagraph = {u["uid"]: u for u in node.getmetagraph(0)["uids"]}
    assert metagraph[uid["cheat"]]["epoch"] == EPOCH and metagraph[uid["cheat"]]["incentive"] == 0
    assert metagraph[uid["honest"]]["incentive"] > 0 and metagraph[uid["honest"]]["emission"] > 0
