"""Coordination records and payloads: registrations, stake, work and weight commit-reveal, checkpoints.

State records (all keys start with one letter, distinct from the ledger's `A` accounts, `P` pools and
`S` supply, so a prefix scan of one kind never meets another; integers big-endian in keys so they sort):
    U job hotkey          → UidRecord                      the hotkey's slot in the job (u16)
    N job uid             → Neuron                         who holds the slot, since when
    M job                 → JobState                       uid count, burn price, registrations, checkpoint
    K hotkey              → Stake                          the owning coldkey and the amount staked
    W job epoch uid       → WorkCommit                     commitment hash and height
    R job epoch uid       → WorkReveal                     artifact id and base checkpoint hash
    C job epoch uid       → WeightsCommit                  weights commitment hash
    V job epoch uid       → SparseRow                      revealed weights ((uid, u16)...)
    B job uid             → SparseRow                      bond row ((uid, u16)...)
    E job uid             → NeuronStats                    last epoch's consensus outputs and earnings
    T job epoch uid       → Attestation                    attested checkpoint hash
    Y job epoch hash      → AttestedStake                  current stake of the uids that attested this hash
                                                           (recounted at each attestation)
    Z job epoch           → CheckpointRecord               checkpoint recorded for the epoch (a stake majority
                                                           attested it) and the height it was recorded at
    X job uid             → Endpoint                       where the uid serves (Bittensor's axon info)
    D job epoch uid       → EvidenceList                   failed-audit evidence published against the uid's
                                                           work this epoch: (publisher uid, reason, evidence
                                                           artifact id, height)...; absent when there is none

Every record is a frozen dataclass with one `serialize` and one strict `deserialize` (a wrong length
raises `DecodeError("bad-state-record")`), used by the rules, the epoch processing and the RPC alike.
Proportions (weights, bonds, consensus outputs) stay u16 integers here, as subtensor stores them.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from hashgrad.chain.encoding import ByteReader
from hashgrad.chain.hashes import tagged_hash
from hashgrad.chain.state import FixedRecord
from hashgrad.errors import DecodeError, TxError

MAX_WEIGHTS = 4096
MAX_EVIDENCE_PER_MINER = 4096  # one entry per publishing uid at most (a uid is u16, a job has <= 4096)


def _key(prefix: bytes, *parts: bytes) -> bytes:
    return prefix + b"".join(parts)


def _job(job_id: int) -> bytes:
    return struct.pack(">H", job_id)


def _epoch(epoch: int) -> bytes:
    return struct.pack(">I", epoch)


def _uid(uid: int) -> bytes:
    return struct.pack(">H", uid)


def uid_key(job_id: int, hotkey: bytes) -> bytes:
    return _key(b"U", _job(job_id), hotkey)


def neuron_key(job_id: int, uid: int) -> bytes:
    return _key(b"N", _job(job_id), _uid(uid))


def job_state_key(job_id: int) -> bytes:
    return _key(b"M", _job(job_id))


STAKE_PREFIX = b"K"


def stake_key(hotkey: bytes) -> bytes:
    return _key(STAKE_PREFIX, hotkey)


def work_commit_key(job_id: int, epoch: int, uid: int) -> bytes:
    return _key(b"W", _job(job_id), _epoch(epoch), _uid(uid))


def work_reveal_key(job_id: int, epoch: int, uid: int) -> bytes:
    return _key(b"R", _job(job_id), _epoch(epoch), _uid(uid))


def weights_commit_key(job_id: int, epoch: int, uid: int) -> bytes:
    return _key(b"C", _job(job_id), _epoch(epoch), _uid(uid))


def weights_reveal_key(job_id: int, epoch: int, uid: int) -> bytes:
    return _key(b"V", _job(job_id), _epoch(epoch), _uid(uid))


def bonds_key(job_id: int, uid: int) -> bytes:
    return _key(b"B", _job(job_id), _uid(uid))


def stats_key(job_id: int, uid: int) -> bytes:
    return _key(b"E", _job(job_id), _uid(uid))


def attest_key(job_id: int, epoch: int, uid: int) -> bytes:
    return _key(b"T", _job(job_id), _epoch(epoch), _uid(uid))  # not "A": that prefix holds the accounts


def attest_total_key(job_id: int, epoch: int, checkpoint: bytes) -> bytes:
    return _key(b"Y", _job(job_id), _epoch(epoch), checkpoint)


def checkpoint_key(job_id: int, epoch: int) -> bytes:
    return _key(b"Z", _job(job_id), _epoch(epoch))


def endpoint_key(job_id: int, uid: int) -> bytes:
    return _key(b"X", _job(job_id), _uid(uid))


def evidence_key(job_id: int, epoch: int, uid: int) -> bytes:
    return _key(b"D", _job(job_id), _epoch(epoch), _uid(uid))


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class UidRecord(FixedRecord):
    uid: int
    _fmt = struct.Struct("<H")


@dataclass(frozen=True)
class Neuron(FixedRecord):
    hotkey: bytes
    coldkey: bytes
    registered_height: int
    _fmt = struct.Struct("<32s32sI")


@dataclass(frozen=True)
class JobState(FixedRecord):
    n_uids: int = 0
    burn: int = 0
    registrations_this_epoch: int = 0
    last_epoch_processed: int = -1
    _fmt = struct.Struct("<HQHi")


@dataclass(frozen=True)
class Stake(FixedRecord):
    coldkey: bytes
    amount: int
    _fmt = struct.Struct("<32sQ")


@dataclass(frozen=True)
class NeuronStats(FixedRecord):
    """Last epoch's outputs for a uid (u16 proportions) and its earnings (base units)."""

    epoch: int = -1
    consensus: int = 0
    incentive: int = 0
    dividends: int = 0
    trust: int = 0
    validator_trust: int = 0
    validator_permit: bool = False
    emission: int = 0
    total_earned: int = 0
    last_update: int = 0
    _fmt = struct.Struct("<iHHHHH?QQI")


@dataclass(frozen=True)
class Endpoint(FixedRecord):
    """An IPv6 (or IPv4-mapped) address and TCP port a uid serves on, announced at `height`."""

    ip: bytes
    port: int
    height: int
    _fmt = struct.Struct("<16sHI")

    def to_host_port(self) -> str:
        address = ipaddress.IPv6Address(self.ip)
        host = str(address.ipv4_mapped) if address.ipv4_mapped else f"[{address}]"
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class WorkCommit(FixedRecord):
    """A miner's work commitment for an epoch and the height of the block that carried it."""

    commitment: bytes
    height: int
    _fmt = struct.Struct("<32sI")


@dataclass(frozen=True)
class WorkReveal(FixedRecord):
    """The revealed artifact and the checkpoint it was trained from."""

    artifact_id: bytes
    base_checkpoint: bytes
    _fmt = struct.Struct("<32s32s")


@dataclass(frozen=True)
class WeightsCommit(FixedRecord):
    commitment: bytes
    _fmt = struct.Struct("<32s")


@dataclass(frozen=True)
class Attestation(FixedRecord):
    """The checkpoint a validator attested as the base of an epoch."""

    checkpoint: bytes
    _fmt = struct.Struct("<32s")


@dataclass(frozen=True)
class AttestedStake(FixedRecord):
    amount: int
    _fmt = struct.Struct("<Q")


@dataclass(frozen=True)
class CheckpointRecord(FixedRecord):
    """The checkpoint a stake majority attested for an epoch, and the height it was recorded at."""

    checkpoint: bytes
    height: int
    _fmt = struct.Struct("<32sI")


@dataclass(frozen=True)
class SparseRow:
    """A row of u16 values by uid: revealed weights and bond rows. u16 count, then count
    (uid u16, value u16) pairs, nothing after."""

    entries: tuple[tuple[int, int], ...] = ()

    def serialize(self) -> bytes:
        flat = [x for pair in self.entries for x in pair]
        return struct.pack(f"<H{len(flat)}H", len(self.entries), *flat)

    @classmethod
    def deserialize(cls, data: bytes) -> SparseRow:
        """One `struct` call for the pairs: epoch processing decodes every validator's weights and
        bond rows (64 x 192 pairs at 256 uids)."""
        count = ByteReader(data).read_u16()
        if count > MAX_WEIGHTS:
            raise TxError("bad-weights", f"{count} entries")
        if len(data) != 2 + 4 * count:
            raise DecodeError("bad-state-record", f"{count} pairs need {2 + 4 * count} bytes, got {len(data)}")
        flat = struct.unpack_from(f"<{2 * count}H", data, 2)
        return cls(tuple(zip(flat[0::2], flat[1::2])))


@dataclass(frozen=True)
class EvidenceEntry(FixedRecord):
    """One validator's published evidence against a miner's work of an epoch: who published it, why
    (an `EvidenceReason`), the evidence artifact's id (the hash of the record anyone can re-check) and
    the height of the block that carried it."""

    publisher: int
    reason: int
    evidence_id: bytes
    height: int
    _fmt = struct.Struct("<HB32sI")


@dataclass(frozen=True)
class EvidenceList:
    """Every evidence entry against one miner's work of an epoch, in the order the chain accepted
    them. u16 count, then count fixed-size entries, nothing after."""

    entries: tuple[EvidenceEntry, ...] = ()

    def serialize(self) -> bytes:
        return struct.pack("<H", len(self.entries)) + b"".join(e.serialize() for e in self.entries)

    @classmethod
    def deserialize(cls, data: bytes) -> EvidenceList:
        if len(data) < 2:
            raise DecodeError("bad-state-record", f"evidence list of {len(data)} bytes")
        count = ByteReader(data).read_u16()
        size = EvidenceEntry._fmt.size
        if count == 0 or count > MAX_EVIDENCE_PER_MINER or len(data) != 2 + size * count:
            raise DecodeError("bad-state-record", f"evidence list of {count} entries in {len(data)} bytes")
        return cls(tuple(EvidenceEntry.deserialize(data[2 + i * size : 2 + (i + 1) * size]) for i in range(count)))


# --------------------------------------------------------------------------- commitments
def compute_work_commitment(
    artifact_id: bytes, hotkey: bytes, epoch: int, job_id: int, base_checkpoint: bytes
) -> bytes:
    """Binds an artifact to its author, epoch, job and base: a stolen or replayed reveal cannot match."""
    return tagged_hash(
        "hashgrad/work-commit", struct.pack("<32s32sIH32s", artifact_id, hotkey, epoch, job_id, base_checkpoint)
    )


def compute_weights_commitment(
    weights: tuple[tuple[int, int], ...], salt: bytes, hotkey: bytes, epoch: int, job_id: int
) -> bytes:
    return tagged_hash(
        "hashgrad/weights-commit", SparseRow(weights).serialize() + salt + hotkey + struct.pack("<IH", epoch, job_id)
    )


def compute_register_message(magic: bytes, job_id: int, coldkey: bytes, hotkey: bytes) -> bytes:
    """What a hotkey signs to consent to being registered on a job by a coldkey."""
    return tagged_hash("hashgrad/register", magic + struct.pack("<H", job_id) + coldkey + hotkey)
