"""Where a server, gateway or exporter gets its checkpoint: a file, or a node by hash.

Whatever the source, the bytes are size-limited, hashed and decoded by `work.model.decode_checkpoint`
(safetensors only, every tensor checked); when a hash is expected (from the chain, or given by the
operator) a mismatch is `wrong-checkpoint`. `get_chain_checkpoint_hash` reads the latest checkpoint
job 0 recorded on chain — the one job 1 serves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from hashgrad.errors import WorkError
from hashgrad.work.model import MAX_CHECKPOINT_BYTES, Checkpoint, checkpoint_hash, decode_checkpoint

TRAIN_JOB = 0


class CheckpointSource(Protocol):
    """What fetching a checkpoint needs from a node: `node.client.NodeClient` is one (the serving layer
    sits below the node's, so it names the two calls it uses rather than the class)."""

    def get_artifact(self, artifact_id: bytes) -> bytes: ...

    def get_job(self, job_id: int): ...


def check_checkpoint_bytes(data: bytes, expected_hash: bytes | None) -> tuple[Checkpoint, bytes]:
    digest = checkpoint_hash(data)
    if expected_hash is not None and digest != expected_hash:
        raise WorkError("wrong-checkpoint", f"got {digest.hex()}, expected {expected_hash.hex()}")
    return decode_checkpoint(data), digest


def load_checkpoint_file(path: Path, expected_hash: bytes | None = None) -> tuple[Checkpoint, bytes]:
    """(checkpoint, its hash) from a file."""
    try:
        if Path(path).stat().st_size > MAX_CHECKPOINT_BYTES:
            raise WorkError("too-large", f"{path} exceeds {MAX_CHECKPOINT_BYTES} bytes")
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WorkError("bad-checkpoint-file", f"{path}: {exc.strerror or exc}") from None
    return check_checkpoint_bytes(data, expected_hash)


def fetch_checkpoint(client: CheckpointSource, expected_hash: bytes) -> tuple[Checkpoint, bytes]:
    """(checkpoint, hash) fetched by hash from a node's artifact store (`getartifact`)."""
    return check_checkpoint_bytes(client.get_artifact(expected_hash), expected_hash)


def get_chain_checkpoint_hash(client: CheckpointSource, job: int = TRAIN_JOB) -> bytes | None:
    """The latest checkpoint hash the training job recorded on chain (None before the first)."""
    recorded = client.get_job(job).checkpoint
    return None if recorded is None else recorded.hash
