"""Rounds inside epochs between real nodes: a validator on node 0, an honest miner on node 0 and an
honest and a noise miner on node 1 (network devnet-rounds: job 0 has 2 rounds per epoch), driven
block by block so the test does not race the clock.

In one epoch every miner trains two rounds and announces each round artifact, signed, through its
node; both nodes list the same artifacts; the second round starts from the aggregation of the
first, which a third party recomputes from node 1 alone to the same bits; each miner commits and
reveals one round manifest whose Merkle root covers its round artifacts; the validator scores the
rounds as they close, its weights go through the chain's Yuma, the honest miners earn and the noise
miner does not, and the next epoch's base (the last round aggregated) is on chain, with a lower
held-out loss than the initial checkpoint. The devnet's monitor follows the rounds as they close
(what the live view, the explorer and loss.png show).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from functional.framework import connect_nodes, sync_blocks, sync_mempools, wait_until
from hashgrad.chain.coordination_make import make_register, make_stake
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import COIN
from hashgrad.chain.tx import make_transfer
from hashgrad.devnet.monitor import DevnetMonitor
from hashgrad.devnet.report import write_plots
from hashgrad.roles.common import EpochClock
from hashgrad.roles.keys import RoleKeys
from hashgrad.roles.round_miner import RoundMiner
from hashgrad.roles.round_validator import RoundValidator
from hashgrad.roles.rounds import RoundChain, get_round_base
from hashgrad.work.compress import compute_layout
from hashgrad.work.data import build_dataset, get_stdlib_dir
from hashgrad.work.evaluate import compute_heldout_loss
from hashgrad.work.model import Checkpoint, compute_initial_state, decode_checkpoint, encode_checkpoint
from hashgrad.work.params import get_preset
from hashgrad.work.round_manifest import decode_manifest
from hashgrad.work.update import decode_update

EPOCH = 1  # the epoch the test follows from its first block to its last


def register_roles(client, coldkey: SigningKey, count: int) -> list[RoleKeys]:
    # fixed hotkeys: each miner's pages (drawn from its hotkey) are the same on every run
    keys = [RoleKeys(coldkey, SigningKey(hashlib.sha256(b"role-rounds %d" % i).digest())) for i in range(count)]
    nonce = client.get_next_nonce(coldkey.pubkey)
    for k in keys:
        client.submit(make_register(coldkey, k.hotkey, client.params.magic, nonce, 0, COIN))
        client.submit(make_transfer(coldkey, client.params.magic, nonce + 1, k.hotkey.pubkey, COIN, 1_000))
        nonce += 2  # the hotkey pays its own fees
    client.submit(make_stake(coldkey, client.params.magic, nonce, keys[0].hotkey.pubkey, 10 * COIN))
    return keys


def test_miners_and_validator_run_rounds_inside_an_epoch(node_factory, tmp_path):
    node0, node1 = node_factory(2, network="devnet-rounds")
    connect_nodes(node1, node0)
    client0, client1 = node0.connect(), node1.connect()
    job = client0.params.jobs[0]
    # the demo's loss-test sizes: the tiny preset's smaller ones let noise pass a round now and then
    params = replace(
        get_preset("tiny"), rounds_per_epoch=2, quorum=2, eval_own_windows=64, eval_rand_windows=64, eval_rand_max=256
    )
    dataset = build_dataset(get_stdlib_dir() / "email", params.page_tokens)
    initial = encode_checkpoint(Checkpoint(params.model, compute_initial_state(params.model, 0)))
    coldkey = SigningKey.generate()
    payout = client0.get_address(coldkey.pubkey)
    node0.generate(4, payout)
    keys = register_roles(client0, coldkey, 4)
    node0.generate(EPOCH * job.tempo - node0.getblockcount(), payout)  # the next block opens EPOCH
    sync_blocks([node0, node1])
    client0.put_artifact(initial)
    validator = RoundValidator(client0, keys[0], job, params, dataset, initial, 10 * COIN)
    miners = [
        RoundMiner(client0, keys[1], job, params, dataset, "honest"),
        RoundMiner(client1, keys[2], job, params, dataset, "honest"),
        RoundMiner(client1, keys[3], job, params, dataset, "noise"),
    ]
    uids = {k.hotkey.pubkey: client0.get_account_of(k.hotkey.pubkey).get_uid(0) for k in keys}

    monitor = DevnetMonitor(client0, 0, [], dataset, work_params=params)  # the roles' params, not the job's demo
    closed = []

    def same_announcements():
        return client0.list_round_artifacts(0, EPOCH) == client1.list_round_artifacts(0, EPOCH)

    while client0.get_epoch(0, EPOCH + 1).checkpoint is None:
        for role in (validator, *miners):
            role.step(EpochClock.read(role.client, job))
        wait_until(same_announcements, what="announcements relayed both ways")
        sync_mempools([node0, node1])
        node0.generate(1, payout)
        sync_blocks([node0, node1])
        monitor.poll()
        closed += monitor.poll_rounds()
        assert node0.getblockcount() <= (EPOCH + 1) * job.tempo + 3, "the next epoch's base was never attested"

    # every miner announced both rounds, signed by its hotkey, and both nodes hold the same list
    announced = client1.list_round_artifacts(0, EPOCH)
    assert sorted((a.round, uids[a.hotkey]) for a in announced) == [(r, u) for r in (0, 1) for u in (1, 2, 3)]
    # round 1 started from round 0's aggregation, and anyone recomputes it from node 1 alone
    info = client1.get_epoch(0, EPOCH)
    epoch_base = (info.checkpoint, decode_checkpoint(initial))
    round1_hash, _ = get_round_base(client1, job, params, dataset, RoundChain(), EPOCH, 1, epoch_base, info.seed)
    assert round1_hash == validator.chain.bases[1][0] != info.checkpoint
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    for ann in announced:
        header, _ = decode_update(client1.get_artifact(ann.artifact_id), params, layout)
        assert header.epoch == EPOCH * 2 + ann.round  # the global round number
        assert header.base_checkpoint == (info.checkpoint if ann.round == 0 else round1_hash)
    # one commitment per miner on chain: the revealed manifest names its round artifacts under their root
    assert sorted(r.uid for r in info.work_reveals) == [1, 2, 3] and len(info.work_commits) == 3
    for reveal in info.work_reveals:
        manifest = decode_manifest(client0.get_artifact(reveal.artifact_id), 2)
        mine = [a for a in announced if uids[a.hotkey] == reveal.uid]
        assert manifest.entries == tuple((a.round, a.artifact_id) for a in mine) and manifest.epoch == EPOCH
    # weights per epoch through the chain's Yuma: honest miners earn, the noise miner does not
    incentive = {u.uid: u.incentive for u in client0.get_metagraph(0).uids if u.epoch == EPOCH}
    assert incentive[1] > 0 and incentive[2] > 0 and incentive.get(3, 0.0) == 0.0
    # the next epoch's base is the last round aggregated, and the model learned
    nxt = client0.get_epoch(0, EPOCH + 1).checkpoint
    assert nxt not in (info.checkpoint, round1_hash)
    trained = decode_checkpoint(client1.get_artifact(nxt))
    assert compute_heldout_loss(trained, dataset) < compute_heldout_loss(decode_checkpoint(initial), dataset)

    # the monitor saw round 0 close (with the checkpoint round 1 started from) and the epoch end
    assert [(r.epoch, r.round, r.checkpoint, r.artifacts) for r in closed] == [(EPOCH, 0, round1_hash.hex(), 3)]
    monitor.poll()
    (result,) = monitor.results
    assert [(r.round, r.checkpoint) for r in result.rounds] == [(0, round1_hash.hex()), (1, nxt.hex())]
    assert result.rounds[-1].heldout_loss == result.heldout_loss and result.to_json()["rounds"][0]["artifacts"] == 3
    write_plots(tmp_path, monitor)
    assert (tmp_path / "loss.png").stat().st_size > 0
