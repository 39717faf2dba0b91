"""Coordination records and payloads: registrations, stake, work and weight commit-reveal, checkpoints.

State records (all keys start with one letter, distinct from the ledger's `A` accounts, `P` pools and
`S` supply, so a prefix scan of one kind never meets another; integers big-endian in keys so they sort):
    U job hotkey          → uid (u16)                     the hotkey's slot in the job
    N job uid             → Neuron                         who holds the slot, since when
    M job                 → JobState                       uid count, burn price, registrations, checkpoint
    K hotkey              → Stake                          the owning coldkey and the amount staked
    W job epoch uid       → WorkCommit                     commitment hash and height
    R job epoch uid       → WorkReveal                     artifact id and base checkpoint hash
    C job epoch uid       → weights commitment hash
    V job epoch uid       → revealed weights ((uid, u16)...)
    B job uid             → bond row ((uid, u16)...)
    E job uid             → NeuronStats                    last epoch's consensus outputs and earnings
    T job epoch uid       → attested checkpoint hash
    Y job epoch hash      → current stake of the uids that attested this hash (recounted at each attestation)
    Z job epoch           → checkpoint recorded for the epoch (a stake majority attested it)
    X job uid             → Endpoint                       where the uid serves (Bittensor's axon info)
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from hashgrad.chain.encoding import ByteReader
from hashgrad.chain.hashes import tagged_hash
from hashgrad.errors import DecodeError, TxError

MAX_WEIGHTS = 4096


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


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Neuron:
    hotkey: bytes
    coldkey: bytes
    registered_height: int
    _fmt = struct.Struct("<32s32sI")

    def serialize(self) -> bytes:
        return self._fmt.pack(self.hotkey, self.coldkey, self.registered_height)

    @classmethod
    def deserialize(cls, data: bytes) -> "Neuron":
        return cls(*cls._fmt.unpack(data))


@dataclass(frozen=True)
class JobState:
    n_uids: int = 0
    burn: int = 0
    registrations_this_epoch: int = 0
    last_epoch_processed: int = -1
    _fmt = struct.Struct("<HQHi")

    def serialize(self) -> bytes:
        return self._fmt.pack(self.n_uids, self.burn, self.registrations_this_epoch, self.last_epoch_processed)

    @classmethod
    def deserialize(cls, data: bytes) -> "JobState":
        return cls(*cls._fmt.unpack(data))


@dataclass(frozen=True)
class Stake:
    coldkey: bytes
    amount: int
    _fmt = struct.Struct("<32sQ")

    def serialize(self) -> bytes:
        return self._fmt.pack(self.coldkey, self.amount)

    @classmethod
    def deserialize(cls, data: bytes) -> "Stake":
        return cls(*cls._fmt.unpack(data))


@dataclass(frozen=True)
class NeuronStats:
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

    def serialize(self) -> bytes:
        return self._fmt.pack(self.epoch, self.consensus, self.incentive, self.dividends, self.trust,
                              self.validator_trust, self.validator_permit, self.emission, self.total_earned,
                              self.last_update)

    @classmethod
    def deserialize(cls, data: bytes) -> "NeuronStats":
        return cls(*cls._fmt.unpack(data))


@dataclass(frozen=True)
class Endpoint:
    """An IPv6 (or IPv4-mapped) address and TCP port a uid serves on, announced at `height`."""

    ip: bytes
    port: int
    height: int
    _fmt = struct.Struct("<16sHI")

    def serialize(self) -> bytes:
        return self._fmt.pack(self.ip, self.port, self.height)

    @classmethod
    def deserialize(cls, data: bytes) -> "Endpoint":
        return cls(*cls._fmt.unpack(data))

    def to_host_port(self) -> str:
        import ipaddress

        address = ipaddress.IPv6Address(self.ip)
        host = str(address.ipv4_mapped) if address.ipv4_mapped else f"[{address}]"
        return f"{host}:{self.port}"


def encode_sparse_row(row: tuple[tuple[int, int], ...]) -> bytes:
    return struct.pack("<H", len(row)) + b"".join(struct.pack("<HH", uid, value) for uid, value in row)


def decode_sparse_row(data: bytes) -> tuple[tuple[int, int], ...]:
    """u16 count, then count (uid u16, value u16) pairs, nothing after. One `struct` call for the
    pairs: epoch processing decodes every validator's weights and bond rows (64 x 192 pairs at 256 uids)."""
    count = ByteReader(data).read_u16()
    if count > MAX_WEIGHTS:
        raise TxError("bad-weights", f"{count} entries")
    if len(data) != 2 + 4 * count:
        raise DecodeError("bad-encoding", f"{count} pairs need {2 + 4 * count} bytes, got {len(data)}")
    flat = struct.unpack_from(f"<{2 * count}H", data, 2)
    return tuple(zip(flat[0::2], flat[1::2]))


# --------------------------------------------------------------------------- commitments
def compute_work_commitment(artifact_id: bytes, hotkey: bytes, epoch: int, job_id: int, base_checkpoint: bytes) -> bytes:
    """Binds an artifact to its author, epoch, job and base: a stolen or replayed reveal cannot match."""
    return tagged_hash("hashgrad/work-commit",
                       struct.pack("<32s32sIH32s", artifact_id, hotkey, epoch, job_id, base_checkpoint))


def compute_weights_commitment(weights: tuple[tuple[int, int], ...], salt: bytes, hotkey: bytes, epoch: int,
                               job_id: int) -> bytes:
    return tagged_hash("hashgrad/weights-commit",
                       encode_sparse_row(weights) + salt + hotkey + struct.pack("<IH", epoch, job_id))


def compute_register_message(magic: bytes, job_id: int, coldkey: bytes, hotkey: bytes) -> bytes:
    """What a hotkey signs to consent to being registered on a job by a coldkey."""
    return tagged_hash("hashgrad/register", magic + struct.pack("<H", job_id) + coldkey + hotkey)
