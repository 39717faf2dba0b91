"""PUBLISH_EVIDENCE: a permitted validator records failed-audit evidence ids against miners' revealed
work, in the window between the work reveals and the close of the weight commits, so that every other
validator reads them before it commits (`coordination_rules.apply_publish_evidence`). One test per
reason code, through the real mempool admission; the record's strict decoding; the undo of a block.

Windows of regtest's job 0 (tempo 30): reveal work [14, 18), commit weights [18, 26)."""

from __future__ import annotations

import pytest

from hashgrad.chain.coordination import EvidenceEntry, EvidenceList
from hashgrad.chain.coordination_make import make_commit_work, make_publish_evidence, make_reveal_work
from hashgrad.chain.coordination_rules import get_evidence
from hashgrad.chain.coordination_tx import MAX_EVIDENCE_PER_TX, CoordKind, EvidencePayload, EvidenceReason
from hashgrad.chain.tx import sign_transaction
from hashgrad.errors import DecodeError
from support.coordination import BASE, COIN, FEE, Member, Net, compute_artifact, with_job

EPOCH, JOB = 1, 0
MISMATCH = EvidenceReason.REPLAY_MISMATCH


def evidence_id(n: int) -> bytes:
    return bytes([n]) * 32


def reveal_work(net: Net, miners: list[Member], revealing: int = 2) -> None:
    """Every miner commits; the first `revealing` reveal; the tip ends before the weights window opens."""
    net.advance_to_offset(EPOCH, 0)
    for member in miners:
        net.send(member.hot, make_commit_work, JOB, EPOCH, compute_artifact(member.hot.pubkey, EPOCH), BASE)
    net.advance_to_offset(EPOCH, net.job().work_commit_end)
    for member in miners[:revealing]:
        net.send(member.hot, make_reveal_work, JOB, EPOCH, compute_artifact(member.hot.pubkey, EPOCH), BASE)
    net.advance_to_offset(EPOCH, net.job().work_reveal_end)


@pytest.fixture
def revealed(team):
    net, miners, validator = team
    reveal_work(net, miners)
    return net, miners, validator


def test_apply_publish_evidence_records_entries_for_every_validator_to_read(revealed):
    net, miners, validator = revealed
    uids = sorted(net.uid(m) for m in miners[:2])
    entries = ((uids[0], MISMATCH, evidence_id(1)), (uids[1], EvidenceReason.DRIFT_EXCEEDED, evidence_id(2)))
    net.send(validator.hot, make_publish_evidence, JOB, EPOCH, entries)
    net.mine()
    publisher = net.uid(validator)
    assert get_evidence(net.chainstate, JOB, EPOCH, uids[0]) == (
        EvidenceEntry(publisher, MISMATCH, evidence_id(1), net.height),
    )
    assert get_evidence(net.chainstate, JOB, EPOCH, uids[1])[0].reason == EvidenceReason.DRIFT_EXCEEDED
    assert get_evidence(net.chainstate, JOB, EPOCH, net.uid(miners[2])) == ()


def test_invalid_duplicate_evidence(revealed):
    net, miners, validator = revealed
    uid = net.uid(miners[0])
    net.send(validator.hot, make_publish_evidence, JOB, EPOCH, ((uid, MISMATCH, evidence_id(1)),))
    net.mine()
    again = ((uid, MISMATCH, evidence_id(2)),)
    assert net.reject_reason(validator.hot, make_publish_evidence, JOB, EPOCH, again) == "duplicate-evidence"


@pytest.mark.parametrize("count", [0, MAX_EVIDENCE_PER_TX + 1])
def test_invalid_bad_evidence_count(revealed, count):
    net, miners, validator = revealed
    entries = tuple((uid, MISMATCH, evidence_id(uid)) for uid in range(count))
    assert net.reject_reason(validator.hot, make_publish_evidence, JOB, EPOCH, entries) == "bad-evidence-count"


@pytest.mark.parametrize("code", [0, 3, 255])
def test_invalid_bad_evidence_reason(revealed, code):
    net, miners, validator = revealed
    entries = ((net.uid(miners[0]), code, evidence_id(1)),)
    assert net.reject_reason(validator.hot, make_publish_evidence, JOB, EPOCH, entries) == "bad-evidence-reason"


def test_invalid_bad_evidence_uid_order(revealed):
    net, miners, validator = revealed
    a, b = sorted(net.uid(m) for m in miners[:2])
    for entries in (
        ((b, MISMATCH, evidence_id(1)), (a, MISMATCH, evidence_id(2))),
        ((a, MISMATCH, evidence_id(1)),) * 2,
    ):
        assert net.reject_reason(validator.hot, make_publish_evidence, JOB, EPOCH, entries) == "bad-evidence-uid"


def test_invalid_evidence_without_reveal(revealed):
    """Against a miner that committed but revealed nothing, or a uid with no work at all."""
    net, miners, validator = revealed
    for uid in (net.uid(miners[2]), net.uid(validator), 999):
        entries = ((uid, MISMATCH, evidence_id(1)),)
        assert net.reject_reason(validator.hot, make_publish_evidence, JOB, EPOCH, entries) == "evidence-without-reveal"


def test_invalid_evidence_outside_its_window(team):
    net, miners, validator = team
    reveal_work(net, miners)
    entries = ((net.uid(miners[0]), MISMATCH, evidence_id(1)),)
    assert net.reject_reason(validator.hot, make_publish_evidence, JOB, EPOCH + 1, entries) == "bad-epoch"
    net.advance_to_offset(EPOCH, net.job().weights_commit_end)
    assert net.reject_reason(validator.hot, make_publish_evidence, JOB, EPOCH, entries) == "evidence-window-closed"


def test_invalid_evidence_before_the_reveals_close(team):
    net, miners, validator = team
    net.advance_to_offset(EPOCH, 0)
    net.send(miners[0].hot, make_commit_work, JOB, EPOCH, compute_artifact(miners[0].hot.pubkey, EPOCH), BASE)
    net.advance_to_offset(EPOCH, net.job().work_commit_end)
    net.send(miners[0].hot, make_reveal_work, JOB, EPOCH, compute_artifact(miners[0].hot.pubkey, EPOCH), BASE)
    net.mine()
    entries = ((net.uid(miners[0]), MISMATCH, evidence_id(1)),)
    assert net.reject_reason(validator.hot, make_publish_evidence, JOB, EPOCH, entries) == "evidence-window-closed"


def test_invalid_evidence_from_unpermitted_or_unregistered_hotkey(revealed):
    net, miners, _ = revealed
    entries = ((net.uid(miners[0]), MISMATCH, evidence_id(1)),)
    assert net.reject_reason(miners[1].hot, make_publish_evidence, JOB, EPOCH, entries) == "no-validator-permit"
    stranger = Member.named("stranger")
    net.fund({stranger.hot.pubkey: COIN})
    assert net.reject_reason(stranger.hot, make_publish_evidence, JOB, EPOCH, entries) == "hotkey-not-registered"


@pytest.mark.parametrize("mutation", ["truncated", "trailing-byte", "empty", "count-above-entries"])
def test_invalid_bad_txns_payload_evidence(revealed, mutation):
    net, miners, validator = revealed
    good = EvidencePayload(JOB, EPOCH, ((net.uid(miners[0]), MISMATCH, evidence_id(1)),)).serialize()
    data = {
        "truncated": good[:-1],
        "trailing-byte": good + b"\x00",
        "empty": b"",
        "count-above-entries": good[:6] + b"\x02" + good[7:],
    }[mutation]
    tx = sign_transaction(
        validator.hot, net.params.magic, CoordKind.PUBLISH_EVIDENCE, net.nonce(validator.hot), FEE, data
    )
    assert net.reject_tx(tx) == "bad-txns-payload"


def test_evidence_list_strict_deserialize():
    record = EvidenceList((EvidenceEntry(3, MISMATCH, evidence_id(7), 42), EvidenceEntry(4, 2, evidence_id(8), 43)))
    data = record.serialize()
    assert len(data) == 2 + 2 * 39 and EvidenceList.deserialize(data) == record
    for broken in (data[:-1], data + b"\x00", b"\x00\x00", b"\x01"):
        with pytest.raises(DecodeError) as info:
            EvidenceList.deserialize(broken)
        assert info.value.reason == "bad-state-record"


def test_replaced_slot_forgets_the_evidence_against_its_old_hotkey(tmp_path):
    """Evidence is keyed by uid: a newcomer in the slot must not inherit the record against the old miner."""
    net = Net.create(tmp_path / "chain", with_job(max_uids=2, immunity_period=1))
    old, validator, newcomer = Member.named("old"), Member.named("validator"), Member.named("newcomer")
    net.join([old])  # first: the oldest registration is the one replaced
    net.join([validator], stakes={"validator": 10 * COIN})
    reveal_work(net, [old], revealing=1)
    uid = net.uid(old)
    net.send(validator.hot, make_publish_evidence, JOB, EPOCH, ((uid, MISMATCH, evidence_id(1)),))
    net.mine()
    assert len(get_evidence(net.chainstate, JOB, EPOCH, uid)) == 1
    net.fund({newcomer.cold.pubkey: 2 * COIN, newcomer.hot.pubkey: COIN})
    net.register(newcomer)
    net.mine()
    assert net.uid(newcomer) == uid and net.uid(old) is None
    assert get_evidence(net.chainstate, JOB, EPOCH, uid) == ()
    net.close()
