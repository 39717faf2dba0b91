"""Headers-first block sync and the inv/getdata relay of blocks and transactions.

Sync: after the handshake, if a peer claims at least our height, we send getheaders with a locator
of our active chain; the peer answers with up to 2000 headers after the fork point, each merge-mined
one followed by its AuxPoW proof. Before anything is stored or queued we check that they link up,
carry our chain ID and usable bits, and meet their proof of work, own or AuxPoW, as block validation
checks it (a bad proof is punished as a block with it would be: reason `high-hash` or the block
path's `auxpow-...` code), and that the peer leaves at most MAX_QUEUED_PER_PEER blocks announced and
unsent (else `headers-flood` bans it); then we remember their heights, queue the blocks we lack and
fetch them by getdata, at most 16 in flight per peer, feeding each block to `ledger.submit_block`
through `run_blocking`. A full headers message (2000 headers, or past the byte budget that proofs
make necessary) is followed by another getheaders from its last header; a once-a-second tick
restarts whatever stalled, until no peer knows more than we do. Blocks may arrive out of order: the
chainstate keeps orphans.

Relay: a tip change (the ledger's listeners) is announced by inv to every peer not known to have
the block; a peer that sends inv for a block we do not know gets a getheaders; transactions are
announced by inv, fetched by getdata, submitted to the mempool and, once accepted, relayed on.
One refused only because its parent (the sender's previous nonce, or the transfer funding it) has
not arrived yet is kept in the bounded orphan pool (`orphans.py`) and submitted again when a
transaction of or to its sender is admitted, or the tip moves.
A rejected block or transaction is answered with a reject carrying the ledger's reason code and
scores misbehaviour points by `misbehaviour.py` (never for an orphan or a duplicate).

Reads of `chainstate.index` / `.orphans` / `mempool` membership here are single dict lookups on the
event loop; everything that touches SQLite or changes state goes through `run_blocking`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from hashgrad.chain.encoding import encode_compact_size
from hashgrad.chain.header import BlockHeader
from hashgrad.chain.pow import compute_target
from hashgrad.chain.validation import check_header_proof
from hashgrad.errors import HashgradError, HeaderError, ProtocolError
from hashgrad.p2p.download import DEFAULT_WINDOW, BlockDownloader
from hashgrad.p2p.locator import find_headers_after_locator, get_block_locator
from hashgrad.p2p.messages import (
    GetDataMessage,
    GetHeadersMessage,
    InvEntry,
    InvMessage,
    InvType,
    NotFoundMessage,
    RejectMessage,
    TxMessage,
)
from hashgrad.p2p.misbehaviour import compute_block_score, compute_tx_score
from hashgrad.p2p.orphans import OrphanPool, is_missing_parent
from hashgrad.p2p.wire import MAX_HEADERS_PER_MESSAGE, MAX_INV_ENTRIES

log = logging.getLogger("hashgrad.p2p")

HEADERS_RESPONSE_TIMEOUT_S = 30.0
BLOCK_DOWNLOAD_TIMEOUT_S = 60.0
MAX_ANNOUNCED_BLOCKS = 8  # a tip change announces at most the newest 8 blocks; peers fill gaps by headers
MAX_HEADER_HEIGHTS = 200_000
# blocks a peer announced by headers and we have not received yet: an honest peer is asked for more
# headers only below one message's worth, so four messages' worth is a flood. Still needed with every
# proof checked: a proof is checked against the header's own bits (the expected difficulty is known
# only once the parent block is connected), so headers at the easiest bits stay cheap to make.
MAX_QUEUED_PER_PEER = 4 * MAX_HEADERS_PER_MESSAGE
MAX_RECENT_REJECTS = 50_000
SERVE_BATCH = 16  # blocks read from disk per executor call when serving getdata
SERVE_BUFFER = 8 << 20  # stop reading blocks for a peer while this much is queued to it


@dataclass
class PeerSyncState:
    claimed_height: int  # the best height its version announced
    best_known_height: int = -1  # the highest block we know it has (from headers and inv)
    headers_requested_at: float | None = None  # a getheaders is outstanding since then
    continuation: bytes | None = None  # last hash of a full headers message: ask for more from there
    idle: bool = False  # its last headers answer gave us nothing new: do not ask again until an inv
    headers_again: bool = False  # an inv of unknown blocks came while a getheaders was outstanding
    unconnecting_headers: int = 0


class BoundedMap(OrderedDict):
    """An insertion-ordered dict that forgets its oldest entries beyond `limit`."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        if len(self) > self.limit:
            self.popitem(last=False)


class ChainSync:
    def __init__(
        self,
        params,
        ledger,
        run_blocking,
        get_peers: Callable[[], list],
        *,
        window: int = DEFAULT_WINDOW,
        block_timeout_s: float = BLOCK_DOWNLOAD_TIMEOUT_S,
    ):
        self.params = params
        self.ledger = ledger
        self.chainstate = ledger.chainstate
        self.run_blocking = run_blocking
        self.get_peers = get_peers  # the peers whose handshake completed
        self.block_timeout_s = block_timeout_s
        self.downloader = BlockDownloader(window)
        self.header_heights: BoundedMap = BoundedMap(MAX_HEADER_HEIGHTS)  # headers heard of, not yet stored
        self.recent_rejects: BoundedMap = BoundedMap(MAX_RECENT_REJECTS)
        self.orphans = OrphanPool()
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------ what we have
    def get_our_height(self) -> int:
        return self.chainstate.height

    def has_block(self, block_hash: bytes) -> bool:
        return block_hash in self.chainstate.index or block_hash in self.chainstate.orphans

    def get_known_height(self, block_hash: bytes) -> int | None:
        entry = self.chainstate.index.get(block_hash)
        return entry.height if entry is not None else self.header_heights.get(block_hash)

    def _note_peer_has(self, peer, block_hash: bytes) -> None:
        peer.known_inventory.add(block_hash)
        height = self.get_known_height(block_hash)
        if height is not None and height > peer.sync.best_known_height:
            peer.sync.best_known_height = height

    # ------------------------------------------------------------ peer lifecycle
    async def on_peer_ready(self, peer) -> None:
        peer.sync = PeerSyncState(claimed_height=peer.version.best_height)
        if peer.version.best_height >= self.get_our_height():
            await self.request_headers(peer)

    def on_peer_closed(self, peer) -> None:
        self.downloader.remove_peer(peer.id)
        self.orphans.remove_peer(peer.id)

    # ------------------------------------------------------------ headers
    async def request_headers(self, peer, from_hash: bytes | None = None) -> None:
        """Send getheaders (our locator, headed by `from_hash` when continuing) unless one is outstanding."""
        state = peer.sync
        now = time.monotonic()
        if state.headers_requested_at is not None and now - state.headers_requested_at < HEADERS_RESPONSE_TIMEOUT_S:
            # The answer may have been built before what made us ask: ask once more when it comes.
            state.headers_again = True
            return
        state.headers_requested_at = now
        locator = await self.run_blocking(get_block_locator, self.chainstate, from_hash)
        peer.send(GetHeadersMessage(tuple(locator)))

    async def on_getheaders(self, peer, message) -> None:
        for block_hash in message.locator:  # the newest locator hash we know is a block the peer has
            if self.get_known_height(block_hash) is not None:
                self._note_peer_has(peer, block_hash)
                break
        headers = await self.run_blocking(
            find_headers_after_locator, self.chainstate, message.locator, message.stop_hash
        )
        peer.send_payload("headers", encode_compact_size(len(headers)) + b"".join(headers))

    async def on_headers(self, peer, message) -> None:
        state = peer.sync
        state.headers_requested_at = None
        again, state.headers_again = state.headers_again, False
        await self._process_headers(peer, message)
        if again and state.headers_requested_at is None:
            state.idle = False
            await self.request_headers(peer)

    async def _process_headers(self, peer, message) -> None:
        state = peer.sync
        headers = message.headers
        if not headers:
            state.idle = state.continuation is None
            return
        parent_height = self.get_known_height(headers[0].prev_hash)
        bad = self._check_headers(headers, message.auxpows, parent_height)
        if bad is not None:  # punished as a block with this header would be (`high-hash`, `auxpow-...`)
            header, exc = bad
            log.info("peer %d: header %s rejected: %s", peer.id, header.hash_hex, exc)
            peer.send(RejectMessage("headers", exc.reason, header.hash))
            peer.misbehave(compute_block_score(exc), exc.reason)
            return
        if parent_height is None:
            await self._on_unconnecting_headers(peer)
            return
        state.unconnecting_headers = 0
        wanted = [h.hash for h in headers if not self.has_block(h.hash)]
        if self.downloader.count_queued(peer.id) + len(wanted) > MAX_QUEUED_PER_PEER:
            raise ProtocolError("headers-flood", f"more than {MAX_QUEUED_PER_PEER} blocks announced and not sent")
        for offset, header in enumerate(headers, start=1):
            if header.hash not in self.chainstate.index:
                self.header_heights[header.hash] = parent_height + offset
        self._note_peer_has(peer, headers[-1].hash)
        self.downloader.add_wanted(peer.id, wanted)
        full = message.is_full()
        state.continuation = headers[-1].hash if full else None
        state.idle = not wanted and not full
        self.request_blocks(peer)
        await self._continue_headers(peer)

    def _check_headers(self, headers, auxpows, parent_height: int | None) -> tuple[BlockHeader, HashgradError] | None:
        """Before anything is stored or queued: headers must chain (else ProtocolError), and each must
        carry our chain ID and usable bits, be of a kind its height allows and meet its proof of work:
        its own hash, or the AuxPoW proof that travels with it (`check_header_proof`, the check block
        validation runs). The first header that fails, with its error; None when all pass."""
        for previous, header in zip(headers, headers[1:]):
            if header.prev_hash != previous.hash:
                raise ProtocolError("bad-headers-noncontinuous", "headers do not link up")
        pow_limit = self.params.pow.pow_limit
        start = self.params.auxpow_start_height
        for offset, (header, auxpow) in enumerate(zip(headers, auxpows), start=1):
            try:
                if header.chain_id != self.params.chain_id:
                    raise HeaderError("bad-chain-id", f"chain ID {header.chain_id}")
                compute_target(header.bits, pow_limit)
                if header.is_auxpow():
                    height = None if parent_height is None else parent_height + offset
                    if start is None or (height is not None and height < start):
                        raise HeaderError("auxpow-before-start", "merged mining not allowed at this height")
                elif not self.params.allow_own_pow:
                    raise HeaderError("own-pow-not-allowed", "this network takes merge-mined blocks only")
                check_header_proof(self.params, header, auxpow)
            except HashgradError as exc:
                return header, exc
        return None

    async def _on_unconnecting_headers(self, peer) -> None:
        """Headers whose parent we do not know (a peer announcing past a gap): ask from our locator."""
        state = peer.sync
        state.unconnecting_headers += 1
        await self.request_headers(peer)
        if state.unconnecting_headers % 10 == 0:
            raise ProtocolError("unconnecting-headers", f"{state.unconnecting_headers} unconnecting headers messages")

    async def _continue_headers(self, peer) -> None:
        state = peer.sync
        if state.continuation is not None and self.downloader.count_queued(peer.id) < MAX_HEADERS_PER_MESSAGE:
            from_hash, state.continuation = state.continuation, None
            await self.request_headers(peer, from_hash)

    # ------------------------------------------------------------ blocks
    def request_blocks(self, peer) -> None:
        hashes = self.downloader.take_requests(peer.id, lambda h: not self.has_block(h))
        if hashes:
            peer.send(GetDataMessage(tuple(InvEntry(InvType.BLOCK, h) for h in hashes)))

    async def on_block(self, peer, message) -> None:
        block = message.block
        block_hash = block.hash
        peer.known_inventory.add(block_hash)
        requested = self.downloader.mark_received(block_hash) is not None
        try:
            result = await self.run_blocking(self.ledger.submit_block, block)
        except HashgradError as exc:
            log.info("peer %d: block %s rejected: %s", peer.id, block.header.hash_hex, exc)
            peer.send(RejectMessage("block", exc.reason, block_hash))
            peer.misbehave(compute_block_score(exc), exc.reason)
        else:
            self.header_heights.pop(block_hash, None)
            self._note_peer_has(peer, block_hash)
            if result.connected:
                peer.last_block_time = time.monotonic()
            if result.status == "orphan" and not requested:
                await self.request_headers(peer)  # an announcement past a gap: fetch what lies between
        if peer.close_reason is None:
            self.request_blocks(peer)
            await self._continue_headers(peer)

    async def on_getdata(self, peer, message) -> None:
        missing = []
        blocks = [e.hash for e in message.entries if e.type == InvType.BLOCK]
        for start in range(0, len(blocks), SERVE_BATCH):
            await peer.wait_for_send_buffer(SERVE_BUFFER)
            batch = blocks[start : start + SERVE_BATCH]
            for block_hash, raw in zip(batch, await self.run_blocking(self._read_valid_blocks, batch)):
                if raw is None:
                    missing.append(InvEntry(InvType.BLOCK, block_hash))
                else:
                    self._note_peer_has(peer, block_hash)
                    peer.send_payload("block", raw)
        txids = [e.hash for e in message.entries if e.type == InvType.TX]
        if txids:
            for txid, tx in zip(txids, await self.run_blocking(self._read_mempool, txids)):
                if tx is None:
                    missing.append(InvEntry(InvType.TX, txid))
                else:
                    peer.known_inventory.add(txid)
                    peer.send(TxMessage(tx))
        if missing:
            peer.send(NotFoundMessage(tuple(missing)))

    def _read_valid_blocks(self, hashes: list[bytes]) -> list[bytes | None]:
        """Stored blocks by hash; None for unknown ones and for blocks we found invalid."""
        out = []
        for block_hash in hashes:
            entry = self.chainstate.index.get(block_hash)
            ok = entry is not None and not entry.is_failed()
            out.append(self.chainstate.get_block_bytes(block_hash) if ok else None)
        return out

    def _read_mempool(self, txids: list[bytes]) -> list:
        return [self.ledger.mempool.get(txid) for txid in txids]

    def on_notfound(self, peer, message) -> None:
        self.downloader.mark_not_found(peer.id, message.get_hashes(InvType.BLOCK))

    # ------------------------------------------------------------ inventory and transactions
    async def on_inv(self, peer, message) -> None:
        blocks = message.get_hashes(InvType.BLOCK)
        for block_hash in blocks:
            self._note_peer_has(peer, block_hash)
        unknown = [h for h in blocks if not self.has_block(h)]
        if unknown:
            peer.sync.idle = False
            if all(h in self.header_heights for h in unknown):
                self.downloader.add_wanted(peer.id, unknown)
                self.request_blocks(peer)
            else:
                await self.request_headers(peer)
        txids = message.get_hashes(InvType.TX)
        for txid in txids:
            peer.known_inventory.add(txid)
        wanted = [
            t for t in txids if t not in self.recent_rejects and t not in self.ledger.mempool and t not in self.orphans
        ]
        if wanted:
            peer.send(GetDataMessage(tuple(InvEntry(InvType.TX, t) for t in wanted)))

    async def on_tx(self, peer, message) -> None:
        tx = message.tx
        txid = tx.txid
        peer.known_inventory.add(txid)
        if txid in self.recent_rejects or txid in self.ledger.mempool or txid in self.orphans:
            return
        try:
            await self.run_blocking(self.ledger.submit_transaction, tx)
        except HashgradError as exc:
            if is_missing_parent(exc) and self.orphans.add(tx, peer.id, time.monotonic()):
                log.debug("tx %s from peer %d kept as an orphan (%s)", txid[::-1].hex(), peer.id, exc.reason)
                return
            self.recent_rejects[txid] = exc.reason
            if not exc.reason.startswith("txn-already"):
                peer.send(RejectMessage("tx", exc.reason, txid))
            peer.misbehave(compute_tx_score(exc), exc.reason)
            return
        self.relay_inventory(InvType.TX, [txid])
        await self.retry_orphans(self.orphans.take_children(tx))

    async def retry_orphans(self, orphans: list) -> None:
        """Submit orphans again; each one admitted is relayed and may cure orphans of its own."""
        queue = list(orphans)
        while queue:
            orphan = queue.pop(0)
            tx = orphan.tx
            if tx.txid in self.ledger.mempool:
                continue
            try:
                await self.run_blocking(self.ledger.submit_transaction, tx)
            except HashgradError as exc:
                if is_missing_parent(exc):
                    self.orphans.add(tx, orphan.peer_id, time.monotonic())  # still waiting
                else:
                    self.recent_rejects[tx.txid] = exc.reason
                continue
            log.debug("orphan tx %s admitted", tx.txid[::-1].hex())
            self.relay_inventory(InvType.TX, [tx.txid])
            queue += self.orphans.take_children(tx)

    def on_transaction_accepted(self, tx) -> None:
        """A transaction the node took by other means (RPC) may be an orphan's parent."""
        self._start(self.retry_orphans(self.orphans.take_children(tx)))

    def cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _start(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ announcing
    def relay_inventory(self, inv_type: InvType, hashes: list[bytes]) -> None:
        """Send inv of these hashes to every ready peer not known to have them."""
        for peer in self.get_peers():
            fresh = [h for h in hashes if h not in peer.known_inventory]
            for h in fresh:
                peer.known_inventory.add(h)
            for start in range(0, len(fresh), MAX_INV_ENTRIES):
                peer.send(InvMessage(tuple(InvEntry(inv_type, h) for h in fresh[start : start + MAX_INV_ENTRIES])))

    def on_tip_changed(self, result) -> None:
        """The ledger's tip moved (any source): announce the newest connected blocks."""
        self.recent_rejects.clear()  # a transaction refused against the old tip may fit the new one
        if self.orphans:  # the new blocks may hold their parents
            self._start(self.retry_orphans(self.orphans.take_all()))
        hashes = [block.hash for block in result.connected[-MAX_ANNOUNCED_BLOCKS:]]
        for block_hash in hashes:
            self.header_heights.pop(block_hash, None)
        if hashes:
            self.relay_inventory(InvType.BLOCK, hashes)

    # ------------------------------------------------------------ once a second
    async def tick(self) -> None:
        """Restart stalled work: refill download windows, re-ask headers of peers that know more."""
        for peer_id in self.downloader.find_stalled(self.block_timeout_s):
            for peer in self.get_peers():
                if peer.id == peer_id:
                    peer.close("block-download-timeout")
        our_height = self.get_our_height()
        for peer in self.get_peers():
            if peer.sync is None or peer.close_reason is not None:
                continue
            self.request_blocks(peer)
            state = peer.sync
            busy = self.downloader.count_in_flight(peer.id) or self.downloader.count_queued(peer.id)
            if not busy and not state.idle and max(state.best_known_height, state.claimed_height) > our_height:
                await self.request_headers(peer)
