"""Payloads of the coordination transaction kinds, each a fixed `struct` layout (weights: sparse row).

REGISTER          job, hotkey, max burn, hotkey's consent signature     (sender: the coldkey, pays the burn)
ADD_STAKE         hotkey, amount                                       (sender: the hotkey's coldkey)
REMOVE_STAKE      hotkey, amount                                       (sender: the hotkey's coldkey)
COMMIT_WORK       job, epoch, commitment                               (sender: a registered hotkey)
REVEAL_WORK       job, epoch, artifact id, base checkpoint hash
COMMIT_WEIGHTS    job, epoch, commitment
REVEAL_WEIGHTS    job, epoch, salt, ((uid, u16 weight)...)
ATTEST_CHECKPOINT job, epoch, checkpoint hash                          (the base of that epoch)
ANNOUNCE_ENDPOINT job, IPv6 address (IPv4-mapped for IPv4), port       (sender: a registered hotkey)
PUBLISH_EVIDENCE  job, epoch, u8 count, ((miner uid u16, reason u8, evidence artifact id 32)...)
                                                                       (sender: a validator with a permit)
"""

from __future__ import annotations

import struct
from dataclasses import astuple, dataclass
from enum import IntEnum
from typing import Any, cast

from hashgrad.chain.coordination import SparseRow
from hashgrad.errors import TxError


class CoordKind(IntEnum):
    REGISTER = 2
    ADD_STAKE = 3
    REMOVE_STAKE = 4
    COMMIT_WORK = 5
    REVEAL_WORK = 6
    COMMIT_WEIGHTS = 7
    REVEAL_WEIGHTS = 8
    ATTEST_CHECKPOINT = 9
    ANNOUNCE_ENDPOINT = 10
    PUBLISH_EVIDENCE = 11


class EvidenceReason(IntEnum):
    """Why a published audit record convicts a miner (the evidence artifact says where and how)."""

    REPLAY_MISMATCH = 1  # an exact replay in the miner's hardware class reached another weight hash
    DRIFT_EXCEEDED = 2  # a tolerance replay on other hardware drifted beyond the calibrated threshold


EVIDENCE_REASON_NAMES = {r.value: r.name.lower().replace("_", "-") for r in EvidenceReason}  # for RPC and logs
MAX_EVIDENCE_PER_TX = 8  # evidence entries one PUBLISH_EVIDENCE may carry


class _FixedPayload:
    """A payload whose bytes are exactly `_fmt` over its fields in order."""

    _fmt: struct.Struct

    def serialize(self) -> bytes:
        return self._fmt.pack(*astuple(cast(Any, self)))  # every subclass is a dataclass

    @classmethod
    def deserialize(cls, data: bytes):
        if len(data) != cls._fmt.size:
            raise TxError("bad-txns-payload", f"{cls.__name__} is {cls._fmt.size} bytes, got {len(data)}")
        return cls(*cls._fmt.unpack(data))


@dataclass(frozen=True)
class RegisterPayload(_FixedPayload):
    job_id: int
    hotkey: bytes
    max_burn: int
    hotkey_signature: bytes
    _fmt = struct.Struct("<H32sQ64s")


@dataclass(frozen=True)
class StakePayload(_FixedPayload):
    hotkey: bytes
    amount: int
    _fmt = struct.Struct("<32sQ")


@dataclass(frozen=True)
class WorkCommitPayload(_FixedPayload):
    job_id: int
    epoch: int
    commitment: bytes
    _fmt = struct.Struct("<HI32s")


@dataclass(frozen=True)
class WorkRevealPayload(_FixedPayload):
    job_id: int
    epoch: int
    artifact_id: bytes
    base_checkpoint: bytes
    _fmt = struct.Struct("<HI32s32s")


@dataclass(frozen=True)
class WeightsCommitPayload(_FixedPayload):
    job_id: int
    epoch: int
    commitment: bytes
    _fmt = struct.Struct("<HI32s")


@dataclass(frozen=True)
class CheckpointAttestPayload(_FixedPayload):
    job_id: int
    epoch: int
    checkpoint: bytes
    _fmt = struct.Struct("<HI32s")


@dataclass(frozen=True)
class EndpointPayload(_FixedPayload):
    job_id: int
    ip: bytes
    port: int
    _fmt = struct.Struct("<H16sH")


@dataclass(frozen=True)
class WeightsRevealPayload:
    job_id: int
    epoch: int
    salt: bytes
    weights: tuple[tuple[int, int], ...]
    _head = struct.Struct("<HI32s")

    def serialize(self) -> bytes:
        return self._head.pack(self.job_id, self.epoch, self.salt) + SparseRow(self.weights).serialize()

    @classmethod
    def deserialize(cls, data: bytes) -> WeightsRevealPayload:
        if len(data) < cls._head.size + 2:
            raise TxError("bad-txns-payload", "weights reveal too short")
        job_id, epoch, salt = cls._head.unpack(data[: cls._head.size])
        try:
            weights = SparseRow.deserialize(data[cls._head.size :]).entries
        except Exception as exc:
            raise TxError("bad-txns-payload", "malformed weights") from exc
        return cls(job_id, epoch, salt, weights)


@dataclass(frozen=True)
class EvidencePayload:
    """Failed-audit evidence ids against miners' work of an epoch: (miner uid, reason, evidence id)...
    The framing is checked here (count byte, exact length); the count's range, the order of the uids
    and the reason codes are consensus rules (`apply_publish_evidence`), each with its reason code."""

    job_id: int
    epoch: int
    entries: tuple[tuple[int, int, bytes], ...]
    _head = struct.Struct("<HIB")
    _entry = struct.Struct("<HB32s")

    def serialize(self) -> bytes:
        head = self._head.pack(self.job_id, self.epoch, len(self.entries))
        return head + b"".join(self._entry.pack(*entry) for entry in self.entries)

    @classmethod
    def deserialize(cls, data: bytes) -> EvidencePayload:
        if len(data) < cls._head.size:
            raise TxError("bad-txns-payload", "evidence payload too short")
        job_id, epoch, count = cls._head.unpack_from(data)
        if len(data) != cls._head.size + count * cls._entry.size:
            raise TxError("bad-txns-payload", f"{count} evidence entries need {count * cls._entry.size} bytes")
        entries = tuple(cls._entry.unpack_from(data, cls._head.size + i * cls._entry.size) for i in range(count))
        return cls(job_id, epoch, entries)


COORD_PAYLOADS: dict[int, Any] = {
    CoordKind.REGISTER: RegisterPayload,
    CoordKind.ADD_STAKE: StakePayload,
    CoordKind.REMOVE_STAKE: StakePayload,
    CoordKind.COMMIT_WORK: WorkCommitPayload,
    CoordKind.REVEAL_WORK: WorkRevealPayload,
    CoordKind.COMMIT_WEIGHTS: WeightsCommitPayload,
    CoordKind.REVEAL_WEIGHTS: WeightsRevealPayload,
    CoordKind.ATTEST_CHECKPOINT: CheckpointAttestPayload,
    CoordKind.ANNOUNCE_ENDPOINT: EndpointPayload,
    CoordKind.PUBLISH_EVIDENCE: EvidencePayload,
}
