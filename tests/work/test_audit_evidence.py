"""Failed-audit evidence: built by the auditor, re-checked by anyone, applied by every validator
(hashgrad.work.audit_evidence, scoring.apply_audit_evidence)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hashgrad.errors import WorkError
from hashgrad.work.adversaries import MinerContext, compute_output
from hashgrad.work.audit_evidence import (
    check_evidence,
    compute_audit_evidence,
    compute_evidence_hash,
    decode_evidence,
    encode_evidence,
)
from hashgrad.work.compress import compute_layout
from hashgrad.work.hashing import compute_tagged_hash
from hashgrad.work.scoring import ScoringInputs, Submission, ValidatorState, apply_audit_evidence, compute_scores
from hashgrad.work.update import compute_artifact_id, decode_update

SEED = b"\x52" * 32
KINDS = ["honest"] * 4 + ["sandbagger"]


def hotkey(uid: int) -> bytes:
    return compute_tagged_hash("test/evidence-hotkey", bytes([uid]))


@pytest.fixture(scope="module")
def submissions(checkpoint, base_hash, dataset, params):
    subs = []
    for uid, kind in enumerate(KINDS):
        out = compute_output(
            kind, MinerContext(checkpoint, base_hash, dataset, SEED, hotkey(uid), 1, params, sandbag_fraction=0.5)
        )
        subs.append(Submission(uid, hotkey(uid), out.commitment, uid, out.artifact))
    return tuple(subs)


def header_of(sub, params):
    return decode_update(sub.artifact, params, compute_layout(params.model, params.chunk_size, params.topk))[0]


def evidence_for(sub, checkpoint, dataset, params):
    return compute_audit_evidence(
        checkpoint,
        dataset,
        SEED,
        params,
        sub.uid,
        compute_artifact_id(sub.artifact),
        header_of(sub, params),
        params.inner_steps,
    )


def test_an_honest_run_leaves_no_evidence(submissions, checkpoint, dataset, params):
    assert evidence_for(submissions[0], checkpoint, dataset, params) is None


def test_a_sandbagger_leaves_evidence_anyone_can_check(submissions, checkpoint, dataset, params):
    cheat = submissions[-1]
    evidence = evidence_for(cheat, checkpoint, dataset, params)
    assert evidence is not None and evidence.uid == cheat.uid and evidence.miner == cheat.hotkey
    steps = params.inner_steps // 2  # it trained half the steps: the first milestone after them diverges
    assert evidence.segment[0] <= steps < evidence.step == evidence.segment[1]
    assert evidence.expected_hash != evidence.got_hash and evidence.distance is None
    header, artifact_id = header_of(cheat, params), compute_artifact_id(cheat.artifact)
    assert check_evidence(evidence, checkpoint, dataset, SEED, params, header, artifact_id)
    # a forged record (another miner's artifact, or a made-up replay result) does not check out
    honest = submissions[0]
    assert not check_evidence(
        replace(evidence, uid=0, miner=honest.hotkey, artifact_id=compute_artifact_id(honest.artifact)),
        checkpoint,
        dataset,
        SEED,
        params,
        header_of(honest, params),
        compute_artifact_id(honest.artifact),
    )
    assert not check_evidence(
        replace(evidence, got_hash=bytes(8)), checkpoint, dataset, SEED, params, header, artifact_id
    )


def test_evidence_round_trips_and_bad_records_raise(submissions, checkpoint, dataset, params):
    evidence = evidence_for(submissions[-1], checkpoint, dataset, params)
    data = encode_evidence(evidence)
    assert decode_evidence(data) == evidence
    assert len(compute_evidence_hash(evidence)) == 32
    for bad in (
        b"{",
        data[:-5],
        data.replace(b'"segment":[', b'"segment":[99,'),
        b"x" * 5000,
        data.replace(b"hashgrad-audit-evidence-v1", b"other"),
    ):
        with pytest.raises(WorkError) as info:
            decode_evidence(bad)
        assert info.value.reason == "bad-evidence"


def test_published_evidence_zeroes_the_miner_at_every_validator(submissions, checkpoint, base_hash, dataset, params):
    quiet = replace(params, audit_probability=0.0, audit_boost=1.0)
    inputs = [
        ScoringInputs(quiet, 1, SEED, bytes([v]) * 32, checkpoint, base_hash, dataset, submissions) for v in range(2)
    ]
    auditor = compute_scores(replace(inputs[0], forced_audits=frozenset({submissions[-1].hotkey})), ValidatorState())
    assert {v.uid: v.reason for v in auditor.verdicts}[4] == "audit-failed"
    assert len(auditor.evidence) == 1
    other = compute_scores(inputs[1], ValidatorState())
    assert other.weights.get(4, 0.0) > 0  # on its own, the other validator pays the sandbagger
    applied = apply_audit_evidence(other, inputs[1], auditor.evidence)
    assert {v.uid: v.reason for v in applied.verdicts}[4] == "audit-evidence"
    assert 4 not in applied.weights and applied.state.ratings[submissions[-1].hotkey].banned
    assert sum(applied.weights.values()) == pytest.approx(1.0)
    # the same record passed in with the inputs gives the same report
    direct = compute_scores(replace(inputs[1], evidence=auditor.evidence), ValidatorState())
    assert direct.weights == applied.weights
    # a record about an honest miner's artifact that does not replay to a mismatch changes nothing
    forged = replace(
        auditor.evidence[0],
        uid=0,
        miner=submissions[0].hotkey,
        artifact_id=compute_artifact_id(submissions[0].artifact),
    )
    assert apply_audit_evidence(other, inputs[1], (forged,)).weights == other.weights
