"""The inference miner's serving loop, below the CLI: pick the backend for a checkpoint, serve it, and
follow the checkpoints job 0 records on chain, switching to each new one once fetched and checked.

Used by `hashgrad serve miner` (cli/serve_cmd.py) and by the devnet's inference miner role
(roles/inference.py), each passing what it has as explicit parameters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from hashgrad.errors import HashgradError
from hashgrad.serve.adversaries import build_backend
from hashgrad.serve.checkpoints import CheckpointSource, fetch_checkpoint, get_chain_checkpoint_hash
from hashgrad.serve.engine import Engine
from hashgrad.serve.server import InferenceServer, serve_forever
from hashgrad.work.model import Checkpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChainFollow:
    """How a miner follows job 0's recorded checkpoints: the node client it polls (a `CheckpointSource`,
    in practice `node.client.NodeClient`), the backend kind it serves each new checkpoint with, and the
    poll period."""

    client: CheckpointSource
    adversary: str = "honest"
    poll_seconds: float = 5.0
    device: str = "cpu"  # where each new checkpoint's backend runs


def build_miner_backend(kind: str, checkpoint: Checkpoint, older: Checkpoint | None, device: str = "cpu") -> Engine:
    """The backend a miner of `kind` serves (`honest` or one of the test adversaries); the stale
    adversary serves `older`, or the only checkpoint there is while there is no older one."""
    if kind == "stale" and older is None:
        kind = "honest"
    return build_backend(kind, checkpoint, older, device)


async def follow_chain(server: InferenceServer, follow: ChainFollow, checkpoint: Checkpoint, digest: bytes) -> None:
    """Poll the node; when job 0 records a new checkpoint, fetch it, check it and serve it."""
    while True:
        await asyncio.sleep(follow.poll_seconds)
        try:
            recorded = await asyncio.to_thread(get_chain_checkpoint_hash, follow.client)
            if recorded is None or recorded == digest:
                continue
            fetched, latest = await asyncio.to_thread(fetch_checkpoint, follow.client, recorded)
        except HashgradError as exc:
            log.warning("checkpoint poll failed: %s", exc)
            continue
        previous, checkpoint, digest = checkpoint, fetched, latest
        server.set_backend(build_miner_backend(follow.adversary, checkpoint, previous, follow.device))
        log.info("now serving checkpoint %s", digest.hex())


async def serve_miner(
    server: InferenceServer,
    host: str,
    port: int,
    on_started: Callable[[int], None],
    checkpoint: Checkpoint,
    digest: bytes,
    follow: ChainFollow | None = None,
) -> None:
    """Serve on host:port (`on_started(bound port)` once listening) and, with `follow`, move to each
    new checkpoint job 0 records. Runs until cancelled or until either part fails."""
    tasks = [asyncio.create_task(serve_forever(server, host, port, on_started))]
    if follow is not None:
        tasks.append(asyncio.create_task(follow_chain(server, follow, checkpoint, digest)))
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
