"""Failed-audit evidence between validators, through the chain: publish it, read it, re-check it.

A validator whose replay audit catches a miner stores the record (`work.audit_evidence`) as an
artifact on its node and publishes its id on chain (a PUBLISH_EVIDENCE transaction, accepted between
the close of the work reveals and the close of the weight commits). Every training validator scores
as soon as the reveals close but commits its weights only from `compute_commit_offset` on; just
before it commits, it reads the evidence the chain recorded for the epoch, fetches each record
through its node (a record is at most `MAX_EVIDENCE_BYTES`, and the artifact must hash to its id),
decodes it, and re-checks it with `scoring.apply_audit_evidence` — one replay of the record's
`step` inner steps from the epoch's base, at most a whole run (H steps), so a record costs what an
audit costs. A record that holds zeroes the miner in this validator's weights and bans its hotkey,
exactly as if it had caught it itself; a record that fails to fetch, to decode or to re-check is
logged and ignored.

Where the consensus comes in: the chain cannot replay training, so it does not zero a miner by
itself (a rule that trusted any published record would let one validator zero anyone). It zeroes
the miner through Yuma: every honest validator's weights on it are zero, so its consensus weight
and incentive are zero for the epoch. The publisher of a record that does not hold is not
penalised: weights reach miners only, and a chain-side slash would need the chain to replay; such a
validator's cost is the fee, and at most one record per (publisher, miner) and epoch is accepted,
by permitted validators only, which bounds the replays others spend on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashgrad.chain.coordination_make import make_publish_evidence
from hashgrad.chain.coordination_tx import MAX_EVIDENCE_PER_TX, EvidenceReason
from hashgrad.chain.jobs import JobParams
from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.client import NodeClient
from hashgrad.node.replies import EvidenceEntry
from hashgrad.roles.common import log, submit_quietly
from hashgrad.roles.keys import RoleKeys
from hashgrad.work.audit_evidence import MAX_EVIDENCE_BYTES, AuditEvidence, decode_evidence, encode_evidence
from hashgrad.work.scoring import ScoreReport, ScoringInputs, apply_audit_evidence

MAX_CHECKED_PER_MINER = 3  # records re-checked per miner and epoch (each costs up to one replayed run)
SETTLED = ("audit-failed", "audit-evidence", "banned")  # verdicts a record cannot change


@dataclass
class ScoredEpoch:
    """A validator's scores of an epoch, kept from scoring until it commits them."""

    report: ScoreReport
    inputs: ScoringInputs


def compute_commit_offset(job: JobParams) -> int:
    """The first epoch offset at which validators commit weights: the middle of the weights window,
    so that evidence published at its start is on chain for everyone to apply."""
    return (job.work_reveal_end + job.weights_commit_end) // 2


def compute_reason(record: AuditEvidence) -> int:
    return EvidenceReason.REPLAY_MISMATCH if record.distance is None else EvidenceReason.DRIFT_EXCEEDED


def publish_evidence(
    client: NodeClient, keys: RoleKeys, job_id: int, epoch: int, records: tuple[AuditEvidence, ...]
) -> list[bytes]:
    """Store each record as an artifact and publish the ids on chain (one record per miner); the ids."""
    entries: dict[int, tuple[int, int, bytes]] = {}
    for record in records:
        try:
            digest = client.put_artifact(encode_evidence(record))
        except (HashgradError, RpcError) as exc:
            log.warning("epoch %d: could not store audit evidence for uid %d: %s", epoch, record.uid, exc)
            continue
        entries.setdefault(record.uid, (record.uid, compute_reason(record), digest))
        log.warning(
            "epoch %d: audit of uid %d failed in steps %d-%d (declared %s, replayed %s); evidence %s",
            epoch,
            record.uid,
            record.segment[0],
            record.segment[1],
            record.expected_hash.hex(),
            record.got_hash.hex(),
            digest.hex(),
        )
    ordered = [entries[uid] for uid in sorted(entries)]
    for start in range(0, len(ordered), MAX_EVIDENCE_PER_TX):
        chunk = tuple(ordered[start : start + MAX_EVIDENCE_PER_TX])
        submit_quietly("evidence", client.submit_built, make_publish_evidence, keys.hotkey, job_id, epoch, chunk)
    return [digest for _, _, digest in ordered]


def fetch_evidence(client: NodeClient, epoch: int, entry: EvidenceEntry) -> AuditEvidence | None:
    """The record behind an on-chain entry, or None (logged) if it cannot be fetched, is too large,
    does not decode, or is not about that miner and epoch."""
    try:
        data = client.get_artifact(entry.evidence_id)  # checked to hash to the id
        if len(data) > MAX_EVIDENCE_BYTES:
            raise HashgradError("bad-evidence", f"{len(data)} bytes")
        record = decode_evidence(data)
        if record.uid != entry.uid or record.epoch != epoch:
            raise HashgradError("bad-evidence", f"about uid {record.uid} epoch {record.epoch}")
    except (HashgradError, RpcError) as exc:
        log.warning(
            "epoch %d: evidence %s from uid %d against uid %d ignored: %s",
            epoch,
            entry.evidence_id.hex()[:16],
            entry.publisher,
            entry.uid,
            exc,
        )
        return None
    return record


def get_verdict_reason(report: ScoreReport, uid: int) -> str | None:
    return next((v.reason for v in report.verdicts if v.uid == uid), None)


def apply_chain_evidence(
    client: NodeClient, job: JobParams, epoch: int, report: ScoreReport, inputs: ScoringInputs
) -> ScoreReport:
    """The report after re-checking every record the chain holds for the epoch (see the docstring)."""
    entries = client.get_epoch(job.job_id, epoch).evidence
    checked: dict[int, int] = {}
    for entry in entries:
        if get_verdict_reason(report, entry.uid) in SETTLED or checked.get(entry.uid, 0) >= MAX_CHECKED_PER_MINER:
            continue
        record = fetch_evidence(client, epoch, entry)
        if record is None:
            continue
        checked[entry.uid] = checked.get(entry.uid, 0) + 1
        report = apply_audit_evidence(report, inputs, (record,))
        if get_verdict_reason(report, entry.uid) == "audit-evidence":
            log.warning(
                "epoch %d: evidence %s from uid %d holds: uid %d zeroed",
                epoch,
                entry.evidence_id.hex()[:16],
                entry.publisher,
                entry.uid,
            )
        else:
            log.warning(
                "epoch %d: evidence %s from uid %d against uid %d does not hold; ignored",
                epoch,
                entry.evidence_id.hex()[:16],
                entry.publisher,
                entry.uid,
            )
    return report
