"""Evidence of a failed replay audit that anyone can check, and what a validator does with it.

An audit replays a prefix of a miner's H inner steps and compares the weight hashes the miner
declared (`UpdateHeader.milestones`, then `delta_hash` for the whole run). When they differ, the
auditor writes down where:

    {miner, uid, epoch, artifact_id, base_checkpoint, segment: [start, end], step,
     expected_hash, got_hash, distance}

`segment` is the stretch of inner steps in which the run left the declared path (the last
milestone that still matched, or 0, to the first that did not), `step` its end, `expected_hash`
what the miner declared there and `got_hash` what the replay reached. `distance` is left for
replays that compare weights within a tolerance (other hardware) rather than bit for bit; an exact
replay leaves it None. The format is generic on purpose: a tolerance replay or a bisection fills
the same fields.

Anyone holding the artifact, the base checkpoint and the dataset re-checks a record with
`check_evidence` (one replay of `step` inner steps, usually far less than a whole run); every
validator that receives a record that checks out zeroes the miner for the epoch and bans its
hotkey (`apply_evidence`), so one auditor's catch reaches the consensus, not just its own row.
The record's hash (`compute_evidence_hash`) is its artifact id, and what a validator publishes on
chain (a PUBLISH_EVIDENCE transaction; hashgrad/roles/evidence.py) for every other validator to fetch
and re-check before it commits its weights.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

from hashgrad.errors import WorkError
from hashgrad.safejson import parse_json
from hashgrad.work.data import Dataset
from hashgrad.work.hardware import CPU_FP32, Runtime, parse_hardware_class
from hashgrad.work.hashing import compute_sha256
from hashgrad.work.miner import compute_training
from hashgrad.work.model import Checkpoint
from hashgrad.work.params import WorkParams
from hashgrad.work.update import UpdateHeader, compute_delta_hash, compute_milestone_steps

EVIDENCE_FORMAT = "hashgrad-audit-evidence-v1"
MAX_EVIDENCE_BYTES = 4096


@dataclass(frozen=True)
class AuditEvidence:
    miner: bytes  # hotkey
    uid: int
    epoch: int
    artifact_id: bytes
    base_checkpoint: bytes
    segment: tuple[int, int]  # inner steps (last matching milestone or 0, first diverging one)
    step: int  # = segment[1]
    expected_hash: bytes  # what the miner declared at `step`
    got_hash: bytes  # what the replay reached
    distance: float | None = None  # for tolerance replays; None for bit-exact ones

    def to_json(self) -> dict:
        raw = asdict(self)
        for name in ("miner", "artifact_id", "base_checkpoint", "expected_hash", "got_hash"):
            raw[name] = raw[name].hex()
        raw["segment"] = list(self.segment)
        return {"format": EVIDENCE_FORMAT, **raw}


def encode_evidence(evidence: AuditEvidence) -> bytes:
    return json.dumps(evidence.to_json(), sort_keys=True, separators=(",", ":")).encode()


def decode_evidence(data: bytes) -> AuditEvidence:
    """Parse a published record; raises WorkError('bad-evidence') for anything malformed."""
    if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_EVIDENCE_BYTES:
        raise WorkError("bad-evidence", "not bytes or too large")
    try:
        raw = parse_json(data, WorkError, "bad-evidence", MAX_EVIDENCE_BYTES)  # bounded depth and size
        if not isinstance(raw, dict):
            raise WorkError("bad-evidence", "not a JSON object")
        if raw.pop("format") != EVIDENCE_FORMAT:
            raise WorkError("bad-evidence", "unknown format")
        fields = {
            name: bytes.fromhex(raw[name])
            for name in ("miner", "artifact_id", "base_checkpoint", "expected_hash", "got_hash")
        }
        bounds = [int(s) for s in raw["segment"]]
        if len(bounds) != 2:
            raise WorkError("bad-evidence", "fields, segment or hash sizes")
        segment = (bounds[0], bounds[1])
        distance = raw["distance"]
        evidence = AuditEvidence(
            uid=int(raw["uid"]),
            epoch=int(raw["epoch"]),
            segment=segment,
            step=int(raw["step"]),
            distance=None if distance is None else float(distance),
            **fields,
        )
    except WorkError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WorkError("bad-evidence", str(exc)) from exc
    if (
        set(raw) != set(AuditEvidence.__dataclass_fields__)
        or not 0 <= segment[0] < segment[1]
        or segment[1] != evidence.step
        or any(len(fields[n]) != 32 for n in ("miner", "artifact_id", "base_checkpoint"))
    ):
        raise WorkError("bad-evidence", "fields, segment or hash sizes")
    return evidence


def compute_evidence_hash(evidence: AuditEvidence) -> bytes:
    return compute_sha256(encode_evidence(evidence))


def compute_declared(header: UpdateHeader, params: WorkParams) -> list[tuple[int, bytes]]:
    """(inner step, declared hash) in step order: the milestones, then the whole run."""
    return list(zip(compute_milestone_steps(params), header.milestones)) + [(params.inner_steps, header.delta_hash)]


def get_replay_runtime(header: UpdateHeader, device: Runtime = CPU_FP32) -> Runtime:
    """Where an exact replay runs: the replaying validator's device, in the precision the miner declared."""
    return replace(device, precision=parse_hardware_class(header.hardware).precision)


def compute_divergence(
    checkpoint: Checkpoint,
    dataset: Dataset,
    seed: bytes,
    params: WorkParams,
    header: UpdateHeader,
    steps: int,
    device: Runtime = CPU_FP32,
) -> tuple[tuple[int, int], bytes, bytes] | None:
    """Replay the first `steps` inner steps (within the miner's hardware class); None if every declared
    hash reached matches, else (segment, expected hash, replayed hash) of the first mismatch."""
    delta, milestones = compute_training(
        checkpoint, dataset, seed, header.hotkey, params, steps=steps, runtime=get_replay_runtime(header, device)
    )
    reached = list(milestones) + ([compute_delta_hash(delta)] if steps >= params.inner_steps else [])
    previous = 0
    for (step, expected), got in zip(compute_declared(header, params), reached):
        if expected != got:
            return (previous, step), expected, got
        previous = step
    return None


def compute_audit_evidence(
    checkpoint: Checkpoint,
    dataset: Dataset,
    seed: bytes,
    params: WorkParams,
    uid: int,
    artifact_id: bytes,
    header: UpdateHeader,
    steps: int,
    device: Runtime = CPU_FP32,
) -> AuditEvidence | None:
    """The audit itself: None if the replay of `steps` inner steps matches, else the evidence."""
    found = compute_divergence(checkpoint, dataset, seed, params, header, steps, device)
    if found is None:
        return None
    segment, expected, got = found
    return AuditEvidence(
        header.hotkey, uid, header.epoch, artifact_id, header.base_checkpoint, segment, segment[1], expected, got
    )


def check_evidence(
    evidence: AuditEvidence,
    checkpoint: Checkpoint,
    dataset: Dataset,
    seed: bytes,
    params: WorkParams,
    header: UpdateHeader,
    artifact_id: bytes,
) -> bool:
    """True iff the record is about this artifact and a replay to its step reproduces the mismatch."""
    declared = dict(compute_declared(header, params))
    if (
        evidence.artifact_id != artifact_id
        or evidence.miner != header.hotkey
        or evidence.epoch != header.epoch
        or evidence.base_checkpoint != header.base_checkpoint
        or declared.get(evidence.step) != evidence.expected_hash
    ):
        return False
    delta, milestones = compute_training(
        checkpoint, dataset, seed, header.hotkey, params, steps=evidence.step, runtime=get_replay_runtime(header)
    )
    got = compute_delta_hash(delta) if evidence.step >= params.inner_steps else milestones[-1]
    return got == evidence.got_hash != evidence.expected_hash
