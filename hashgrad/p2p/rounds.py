"""Round announcements: how a training miner tells the network "my artifact for round r is X".

Rounds inside epochs (work/rounds.py) need miners to find each other's round artifacts within
seconds, while the chain keeps one commitment per miner per epoch. A `RoundAnnouncement` is that
message: (job, epoch, round, hotkey, artifact id) signed by the hotkey (BIP340), 136 bytes in a
fixed layout. It signs the artifact's hash, so the round artifact is signed by the hotkey; the
artifact itself moves by hash through the artifact messages (p2p/artifacts.py).

A node keeps the announcements it accepted in a bounded `RoundIndex` (the first per (job, epoch,
round, hotkey) wins; at most MAX_PER_ROUND per round, MAX_ROUNDS rounds, the oldest dropped), relays
each new one to its other peers (`roundann`), sends its whole index to a peer that connects, and
lists them by RPC (`listroundartifacts`). A bad signature is misbehaviour. A round is open until the
tip reaches its close height (chain/jobs.compute_round_close_height): an announcement after that, or
for a job, round or epoch that does not exist yet, is refused (from a peer: dropped, it may race us),
so that a round's artifact set is final when the roles aggregate it.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass
from typing import ClassVar

from hashgrad.chain.hashes import tagged_hash
from hashgrad.chain.jobs import JOB_TRAIN, JobParams, compute_epoch, compute_round_close_height, get_rounds_per_epoch
from hashgrad.chain.keys import SigningKey, is_valid_schnorr
from hashgrad.errors import ProtocolError

ANNOUNCEMENT_LAYOUT = struct.Struct(">HIH32s32s64s")  # job, epoch, round, hotkey, artifact id, signature
MAX_PER_ROUND = 256
MAX_ROUNDS = 512
MAX_ROUND = 0xFFFF


@dataclass(frozen=True)
class RoundAnnouncement:
    command: ClassVar[str] = "roundann"

    job_id: int
    epoch: int
    round: int  # in-epoch index, 0 .. rounds_per_epoch - 1
    hotkey: bytes
    artifact_id: bytes
    signature: bytes

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.job_id, self.epoch, self.round)

    def serialize(self) -> bytes:
        return ANNOUNCEMENT_LAYOUT.pack(
            self.job_id, self.epoch, self.round, self.hotkey, self.artifact_id, self.signature
        )

    @classmethod
    def deserialize(cls, data: bytes) -> RoundAnnouncement:
        if len(data) != ANNOUNCEMENT_LAYOUT.size:
            raise ProtocolError("bad-payload", f"roundann: {len(data)} bytes, not {ANNOUNCEMENT_LAYOUT.size}")
        return cls(*ANNOUNCEMENT_LAYOUT.unpack(data))

    def is_signed(self) -> bool:
        return is_valid_schnorr(
            self.hotkey,
            compute_announcement_hash(self.job_id, self.epoch, self.round, self.hotkey, self.artifact_id),
            self.signature,
        )

    def to_json(self) -> dict:
        return {
            "job": self.job_id,
            "epoch": self.epoch,
            "round": self.round,
            "hotkey": self.hotkey.hex(),
            "artifact_id": self.artifact_id.hex(),
            "signature": self.signature.hex(),
        }


def compute_announcement_hash(job_id: int, epoch: int, round_index: int, hotkey: bytes, artifact_id: bytes) -> bytes:
    """What the hotkey signs: a tagged hash of the announcement's fields."""
    return tagged_hash(
        "hashgrad/round-artifact", ANNOUNCEMENT_LAYOUT.pack(job_id, epoch, round_index, hotkey, artifact_id, b"")[:102]
    )


def make_announcement(
    hotkey: SigningKey, job_id: int, epoch: int, round_index: int, artifact_id: bytes
) -> RoundAnnouncement:
    if not 0 <= round_index <= MAX_ROUND or len(artifact_id) != 32:
        raise ProtocolError("bad-announcement", "round out of range or artifact id not 32 bytes")
    digest = compute_announcement_hash(job_id, epoch, round_index, hotkey.pubkey, artifact_id)
    return RoundAnnouncement(job_id, epoch, round_index, hotkey.pubkey, artifact_id, hotkey.sign(digest))


def check_round_open(jobs: tuple[JobParams, ...], ann: RoundAnnouncement, tip_height: int) -> None:
    """ProtocolError unless `ann` names an open round of a training job (tip: the last connected block)."""
    job = next((j for j in jobs if j.job_id == ann.job_id and j.kind == JOB_TRAIN), None)
    if job is None or ann.round >= get_rounds_per_epoch(job):
        raise ProtocolError("round-unknown", f"job {ann.job_id} has no round {ann.round}")
    if ann.epoch > compute_epoch(tip_height + 1, job.tempo):
        raise ProtocolError("round-not-open", f"epoch {ann.epoch} has not started")
    if tip_height >= compute_round_close_height(job, ann.epoch, ann.round):
        raise ProtocolError("round-closed", f"round {ann.round} of epoch {ann.epoch} is closed")


class RoundIndex:
    """The announcements a node accepted, by (job, epoch, round), bounded."""

    def __init__(self) -> None:
        self.rounds: OrderedDict[tuple[int, int, int], dict[bytes, RoundAnnouncement]] = OrderedDict()

    def add(self, ann: RoundAnnouncement) -> bool:
        """Store a checked announcement; False when it is not new (or its round is full)."""
        if not ann.is_signed():
            raise ProtocolError("bad-announcement-signature", f"round {ann.key} by {ann.hotkey.hex()[:16]}")
        entries = self.rounds.get(ann.key)
        if entries is None:
            entries = self.rounds[ann.key] = {}
            while len(self.rounds) > MAX_ROUNDS:
                self.rounds.popitem(last=False)
        if ann.hotkey in entries or len(entries) >= MAX_PER_ROUND:
            return False
        entries[ann.hotkey] = ann
        return True

    def get(self, job_id: int, epoch: int, round_index: int | None = None) -> list[RoundAnnouncement]:
        """The announcements of one round, or of every round of the epoch, in (round, hotkey) order."""
        found = [
            ann
            for (job, e, r), entries in self.rounds.items()
            if job == job_id and e == epoch and (round_index is None or r == round_index)
            for ann in entries.values()
        ]
        return sorted(found, key=lambda a: (a.round, a.hotkey))

    def get_all(self) -> list[RoundAnnouncement]:
        return [ann for entries in self.rounds.values() for ann in entries.values()]


class RoundExchange:
    """The `roundann` handler of a PeerManager: accept, store, relay."""

    def __init__(self, get_peers, jobs: tuple[JobParams, ...], get_tip_height) -> None:
        self.get_peers = get_peers
        self.jobs = jobs
        self.get_tip_height = get_tip_height
        self.index = RoundIndex()

    def announce(self, ann: RoundAnnouncement, source=None) -> bool:
        """Store an announcement (from RPC or a peer) and relay it when it is new; ProtocolError when
        its round is not open or its signature is bad."""
        check_round_open(self.jobs, ann, self.get_tip_height())
        if not self.index.add(ann):
            return False
        for peer in self.get_peers():
            if peer is not source:
                peer.send(ann)
        return True

    async def on_roundann(self, peer, message: RoundAnnouncement) -> None:
        try:
            self.announce(message, peer)
        except ProtocolError as exc:
            if exc.reason.startswith("round-"):
                return  # closed by a block the peer had not seen yet: not its fault
            raise  # a bad signature: the peer scores 100 points

    def on_peer_ready(self, peer) -> None:
        """A new peer gets what this node knows (bounded by the index)."""
        for ann in self.index.get_all():
            peer.send(ann)
