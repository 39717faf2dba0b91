"""Round announcements travel between real nodes: a miner hands node 0 its signed announcement of a
round artifact, node 1 lists it (relayed), a node that connects later receives what its peer holds,
a round whose close height the tip has reached takes no more, and a peer that sends an announcement
with a bad signature is disconnected and banned. (devnet-rounds: job 0 has 2 rounds of 14 blocks.)"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from functional.framework import RawPeer, connect_nodes, wait_until
from hashgrad.chain.keys import SigningKey
from hashgrad.errors import RpcError
from hashgrad.p2p.rounds import make_announcement


def test_round_announcements_relay_between_nodes(node_factory):
    node0, node1, node2 = node_factory(3, network="devnet-rounds")
    connect_nodes(node1, node0)
    miner = SigningKey.generate()
    client0, client1 = node0.connect(), node1.connect()
    artifact_id = client0.put_artifact(b"round artifact")
    ann = make_announcement(miner, 0, 0, 1, artifact_id)
    assert client0.announce_round(ann) is True
    assert client0.announce_round(ann) is False  # already held: not relayed again
    wait_until(lambda: client1.list_round_artifacts(0, 0, 1) == [ann], what="relayed announcement")
    assert client1.list_round_artifacts(0, 0) == [ann] and client1.list_round_artifacts(0, 0, 0) == []
    assert client1.get_artifact(ann.artifact_id) == b"round artifact"  # the artifact itself moves by hash
    connect_nodes(node2, node1)  # a node that joins late learns what its peer holds
    wait_until(lambda: node2.connect().list_round_artifacts(0, 0) == [ann], what="announcement to a late peer")

    for epoch, round_index, reason in ((0, 2, "round-unknown"), (1, 0, "round-not-open")):
        with pytest.raises(RpcError) as info:
            client0.announce_round(make_announcement(miner, 0, epoch, round_index, artifact_id))
        assert info.value.reason == reason
    node0.generate(15)  # tip 15: round 0 of epoch 0 (heights 1-14) is closed, round 1 is open
    with pytest.raises(RpcError) as info:
        client0.announce_round(make_announcement(SigningKey.generate(), 0, 0, 0, artifact_id))
    assert info.value.reason == "round-closed"

    forged = replace(ann, artifact_id=hashlib.sha256(b"other").digest())
    with pytest.raises(RpcError) as info:
        client0.announce_round(forged)
    assert info.value.reason == "bad-announcement-signature"
    peer = RawPeer(node0)
    peer.handshake()
    peer.send_message(forged)
    peer.read_until_closed()
    assert "127.0.0.2" in {entry["address"].split("/")[0] for entry in node0.listbanned()}
    assert client0.list_round_artifacts(0, 0) == [ann]
