"""Publishing a prepared dataset's token shards to a node, so that miners anywhere fetch them by hash.

Each shard is read from disk, checked against the manifest (work/shards.py) and stored in the
node's artifact store; a miner whose node lacks a shard gets it from the node's peers, and checks
it again before use.
"""

from __future__ import annotations

from pathlib import Path

from hashgrad.errors import WorkError
from hashgrad.node.client import NodeClient
from hashgrad.work.data import load_dataset


def publish_shards(client: NodeClient, manifest_path: Path) -> int:
    """Put every shard of a v2 dataset into the node's artifact store; returns how many."""
    dataset = load_dataset(manifest_path)
    shards = dataset.manifest.get("shards")
    if shards is None:
        raise WorkError("bad-manifest", "only a prepared (sharded) dataset can be published")
    for index in range(len(shards)):
        client.put_artifact(dataset.pages.get_shard(index).tobytes())  # read and hash-checked first
    return len(shards)
