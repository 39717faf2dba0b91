"""Token shards travel between real nodes by hash: a prepared dataset is published to node 0, and a
miner that holds only the manifest reads its pages through node 1, which fetches each shard it is
asked for from its peer; the miner checks every shard again, and refuses bytes that do not match.

(A peer that sends bytes under the wrong hash is banned by the P2P layer: tests/p2p/test_p2p_manager.py.)
"""

from __future__ import annotations

import pytest

from functional.framework import connect_nodes
from hashgrad.errors import WorkError
from hashgrad.roles.shards import publish_shards
from hashgrad.work.data import load_dataset
from hashgrad.work.prepare import prepare_dataset
from tests.work.test_prepare import make_texts, write_jsonl


def test_miner_fetches_its_shards_from_peers_by_hash(tmp_path, node_factory):
    write_jsonl(tmp_path / "data.jsonl", make_texts(80))
    manifest = prepare_dataset(tmp_path / "data.jsonl", tmp_path / "owner", b"", page_tokens=512, shard_pages=4)
    node0, node1 = node_factory(2)
    connect_nodes(node1, node0)
    assert publish_shards(node0.connect(), tmp_path / "owner" / "manifest.json") == len(manifest["shards"])
    miner = tmp_path / "miner"
    miner.mkdir()
    (miner / "manifest.json").write_bytes((tmp_path / "owner" / "manifest.json").read_bytes())
    dataset = load_dataset(miner / "manifest.json", fetch=node1.connect().get_artifact)
    owner = load_dataset(tmp_path / "owner" / "manifest.json")
    page = manifest["shard_pages"] + 1  # in the second shard
    assert dataset.pages[page].tolist() == owner.pages[page].tolist()
    second = manifest["shards"][1]
    assert node1.hasartifact(second) and not node1.hasartifact(manifest["shards"][0])
    assert (miner / "shards" / second).is_file()

    def lying_fetch(digest: bytes) -> bytes:  # a node that answers with other bytes is not believed
        return node1.connect().get_artifact(bytes.fromhex(manifest["shards"][1]))

    liar = load_dataset(miner / "manifest.json", fetch=lying_fetch)
    with pytest.raises(WorkError) as info:
        liar.pages[0]
    assert info.value.reason == "bad-shard-hash"
