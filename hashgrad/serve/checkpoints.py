"""Where a server, gateway or exporter gets its checkpoint: a file, or a node by hash.

Whatever the source, the bytes are size-limited, hashed and decoded by `work.model.decode_checkpoint`
(safetensors only, every tensor checked); when a hash is expected (from the chain, or given by the
operator) a mismatch is `wrong-checkpoint`. `get_chain_checkpoint_hash` reads the latest checkpoint
job 0 recorded on chain — the one job 1 serves.
"""
from __future__ import annotations

import base64
import binascii
from pathlib import Path

from hashgrad.errors import RpcError, WorkError
from hashgrad.work.model import MAX_CHECKPOINT_BYTES, Checkpoint, checkpoint_hash, decode_checkpoint

TRAIN_JOB = 0


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


def fetch_checkpoint(rpc, expected_hash: bytes) -> tuple[Checkpoint, bytes]:
    """(checkpoint, hash) fetched by hash from a node's artifact store (`getartifact`)."""
    reply = rpc.call("getartifact", expected_hash.hex())
    try:
        data = base64.b64decode(reply["data"], validate=True)
    except (KeyError, TypeError, binascii.Error, ValueError):
        raise RpcError("bad-response", "getartifact did not return base64 data") from None
    return check_checkpoint_bytes(data, expected_hash)


def get_chain_checkpoint_hash(rpc, job: int = TRAIN_JOB) -> bytes | None:
    """The latest checkpoint hash the training job recorded on chain (None before the first)."""
    recorded = rpc.call("getjob", job).get("checkpoint")
    if not recorded:
        return None
    try:
        digest = bytes.fromhex(recorded["hash"])
    except (KeyError, TypeError, ValueError):
        raise RpcError("bad-response", "getjob returned a malformed checkpoint") from None
    if len(digest) != 32:
        raise RpcError("bad-response", "checkpoint hash is not 32 bytes")
    return digest
