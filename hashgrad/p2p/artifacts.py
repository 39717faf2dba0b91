"""The work-artifact message family: getartifact / artifact / notfound, by SHA-256.

Artifacts (pseudo-gradients, checkpoints, data shards) are immutable blobs named by their SHA-256.
A node serves them through a pluggable `provider(artifact_id) -> bytes | None` (run in a worker
thread: it may read disk) and fetches them with `fetch(artifact_id, max_size)`, asking up to
FETCH_PARALLEL ready peers at once (peers that stayed silent lately last), each with a short
timeout: a peer that neither answers nor says notfound in time scores SILENT_POINTS misbehaviour
points and is asked last for a while. What comes back is checked before use: its SHA-256 must be the
id asked for (a peer sending other bytes scores 100 points) and its size within the limit asked.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Callable

from hashgrad.errors import ProtocolError
from hashgrad.p2p.messages import ArtifactMessage, GetArtifactMessage, InvEntry, InvType, NotFoundMessage

log = logging.getLogger("hashgrad.p2p")

ArtifactProvider = Callable[[bytes], "bytes | None"]
DEFAULT_FETCH_TIMEOUT_S = 15.0  # per peer (was 60 s, one peer after another)
FETCH_PARALLEL = 3
SILENT_POINTS = 5  # twenty silences in one connection earn a ban
SILENT_FOR_S = 600.0


def is_artifact_data(artifact_id: bytes, data: bytes) -> bool:
    return hashlib.sha256(data).digest() == artifact_id


class ArtifactExchange:
    def __init__(self, get_peers: Callable[[], list], max_artifact_size: int, provider: ArtifactProvider | None = None):
        self.get_peers = get_peers
        self.max_artifact_size = max_artifact_size
        self.provider = provider
        # (artifact id, peer id) -> (future answered with the bytes or None, the size limit asked)
        self.pending: dict[tuple[bytes, int], tuple[asyncio.Future, int]] = {}
        self.silent_until: dict[int, float] = {}  # peer id -> asked last until (monotonic time)

    # ------------------------------------------------------------ serving
    async def on_getartifact(self, peer, message) -> None:
        data = None
        if self.provider is not None:
            try:
                data = await asyncio.to_thread(self.provider, message.artifact_id)
            except Exception:  # a provider failure is ours, not the peer's: answer notfound
                log.exception("artifact provider failed for %s", message.artifact_id.hex())
        limit = min(message.max_size, self.max_artifact_size)
        if data is None or len(data) > limit or not is_artifact_data(message.artifact_id, data):
            peer.send(NotFoundMessage((InvEntry(InvType.ARTIFACT, message.artifact_id),)))
            return
        await peer.wait_for_send_buffer(limit)
        peer.send(ArtifactMessage(message.artifact_id, data))

    # ------------------------------------------------------------ fetching
    async def fetch(self, artifact_id: bytes, max_size: int, timeout_s: float = DEFAULT_FETCH_TIMEOUT_S) -> bytes:
        """The artifact's bytes from the first peer that has it; ProtocolError `artifact-not-found` if none.
        Up to FETCH_PARALLEL peers are asked at once; each gets `timeout_s` to answer."""
        if len(artifact_id) != 32:
            raise ValueError("an artifact id is a 32-byte SHA-256")
        max_size = min(max_size, self.max_artifact_size)
        queue = self._order_peers(list(self.get_peers()))
        asking: dict[asyncio.Task, object] = {}
        try:
            while queue or asking:
                while queue and len(asking) < FETCH_PARALLEL:
                    peer = queue.pop(0)
                    asking[asyncio.ensure_future(self._ask(peer, artifact_id, max_size, timeout_s))] = peer
                done, _ = await asyncio.wait(asking, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    asking.pop(task)
                    data = task.result()
                    if data is not None:
                        return data
        finally:
            for task in asking:
                task.cancel()
        raise ProtocolError("artifact-not-found", f"no peer served {artifact_id.hex()}")

    def _order_peers(self, peers: list) -> list:
        """Peers not silent lately first, each group in random order (no peer is always asked first)."""
        now = time.monotonic()
        random.shuffle(peers)
        return sorted(peers, key=lambda p: self.silent_until.get(p.id, 0.0) > now)

    async def _ask(self, peer, artifact_id: bytes, max_size: int, timeout_s: float) -> bytes | None:
        key = (artifact_id, peer.id)
        if key in self.pending:  # the same request is in flight (another RPC caller): share its answer
            return await self._await_answer(self.pending[key][0], peer, artifact_id, timeout_s)
        future = asyncio.get_running_loop().create_future()
        self.pending[key] = (future, max_size)
        peer.send(GetArtifactMessage(artifact_id, max_size))
        try:
            return await self._await_answer(future, peer, artifact_id, timeout_s)
        finally:
            self.pending.pop(key, None)
            if not future.done():  # we stopped asking (another peer answered): callers sharing it move on
                future.set_result(None)

    async def _await_answer(self, future, peer, artifact_id: bytes, timeout_s: float) -> bytes | None:
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            log.info("peer %d: no answer for artifact %s", peer.id, artifact_id.hex())
            self.silent_until[peer.id] = time.monotonic() + SILENT_FOR_S
            while len(self.silent_until) > 10_000:
                self.silent_until.pop(next(iter(self.silent_until)))
            peer.misbehave(SILENT_POINTS, "artifact-timeout")
            return None

    def _answer(self, artifact_id: bytes, peer_id: int, data: bytes | None) -> None:
        pending = self.pending.get((artifact_id, peer_id))
        if pending is not None and not pending[0].done():
            pending[0].set_result(data)

    async def on_artifact(self, peer, message) -> None:
        pending = self.pending.get((message.artifact_id, peer.id))
        if pending is None:
            return  # unsolicited or late: ignore
        if len(message.data) > pending[1]:
            self._answer(message.artifact_id, peer.id, None)
            raise ProtocolError("oversized-message", f"artifact of {len(message.data)} bytes over {pending[1]}")
        if not is_artifact_data(message.artifact_id, message.data):
            self._answer(message.artifact_id, peer.id, None)
            raise ProtocolError("bad-artifact-hash", f"bytes sent for {message.artifact_id.hex()} hash otherwise")
        self._answer(message.artifact_id, peer.id, message.data)

    def on_notfound(self, peer, message) -> None:
        for artifact_id in message.get_hashes(InvType.ARTIFACT):
            self._answer(artifact_id, peer.id, None)

    def on_peer_closed(self, peer) -> None:
        for artifact_id, peer_id in list(self.pending):
            if peer_id == peer.id:
                self._answer(artifact_id, peer_id, None)
