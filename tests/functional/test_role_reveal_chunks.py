"""A miner's reveal travels between real nodes as chunks (hashgrad.roles.reveals): the miner stores it
on node 0, and a validator attached to node 1 fetches the manifest its update names and every chunk,
which node 1 asks of its peer by hash. What cannot be had is a failed audit's reason code."""

from __future__ import annotations

import hashlib
import os

import pytest

from functional.framework import connect_nodes
from hashgrad.errors import WorkError
from hashgrad.roles.reveals import fetch_reveal, publish_reveal
from hashgrad.work.params import get_preset
from hashgrad.work.reveal import NO_REVEAL, REVEAL_CHUNK_BYTES, compute_reveal_package


def test_a_reveal_travels_as_chunks_and_is_fetched_through_a_peer(node_factory):
    params = get_preset("tiny")
    node0, node1 = node_factory(2)
    connect_nodes(node1, node0)
    reveal = os.urandom(2 * REVEAL_CHUNK_BYTES + 12_345)  # over the node's 8 MiB artifact limit: 3 chunks
    package = compute_reveal_package(reveal)
    assert publish_reveal(node0.connect(), package) == package.manifest_id
    validator = node1.connect()
    assert not node1.hasartifact(package.manifest_id.hex())
    assert fetch_reveal(validator, package.manifest_id, params) == reveal
    fetched = [package.manifest_id.hex()] + [hashlib.sha256(c).hexdigest() for c in package.chunks]
    assert all(node1.hasartifact(digest) for digest in fetched)  # node 1 asked its peer for each
    for manifest_id, reason in (
        (NO_REVEAL, "reveal-missing"),  # the update names none
        (os.urandom(32), "reveal-missing"),  # no node holds it
        (node0.connect().put_artifact(b"{}"), "bad-reveal-manifest"),
    ):
        with pytest.raises(WorkError) as exc:
            fetch_reveal(validator, manifest_id, params)
        assert exc.value.reason == reason
    withheld = compute_reveal_package(os.urandom(REVEAL_CHUNK_BYTES + 1))
    node0.connect().put_artifact(withheld.manifest)  # a miner that keeps a chunk back
    with pytest.raises(WorkError) as exc:
        fetch_reveal(validator, withheld.manifest_id, params)
    assert exc.value.reason == "reveal-missing"
