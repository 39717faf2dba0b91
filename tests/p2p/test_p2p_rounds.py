"""Round announcements (hashgrad.p2p.rounds): the signed record, its window, the bounded index."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import HASHGRAD_DEVNET, HASHGRAD_DEVNET_ROUNDS
from hashgrad.errors import ProtocolError
from hashgrad.p2p import rounds
from hashgrad.p2p.messages import decode_message
from hashgrad.p2p.rounds import RoundIndex, check_round_open, make_announcement

KEY = SigningKey.generate()
ARTIFACT = hashlib.sha256(b"round artifact").digest()
JOBS = HASHGRAD_DEVNET_ROUNDS.jobs  # job 0: 2 rounds of 14 blocks in 44-block epochs; job 1 serves (no rounds)


def test_announcement_round_trip_and_signature():
    ann = make_announcement(KEY, 0, 4, 1, ARTIFACT)
    assert decode_message("roundann", ann.serialize()) == ann and ann.is_signed()
    assert not replace(ann, round=0).is_signed() and not replace(ann, hotkey=SigningKey.generate().pubkey).is_signed()
    with pytest.raises(ProtocolError) as info:
        decode_message("roundann", ann.serialize()[:-1])
    assert info.value.reason == "bad-payload"


@pytest.mark.parametrize(
    "jobs, job_id, epoch, round_index, tip, reason",
    [
        (JOBS, 0, 1, 0, 44, None),  # epoch 1 starts at height 45: round 0 closes at 59
        (JOBS, 0, 1, 0, 58, None),
        (JOBS, 0, 1, 0, 59, "round-closed"),
        (JOBS, 0, 1, 1, 72, None),
        (JOBS, 0, 1, 1, 73, "round-closed"),
        (JOBS, 0, 1, 2, 44, "round-unknown"),
        (JOBS, 0, 2, 0, 44, "round-not-open"),
        (JOBS, 1, 1, 0, 44, "round-unknown"),  # an inference job has no rounds
        (HASHGRAD_DEVNET.jobs, 0, 1, 0, 43, None),  # one round: the whole commit window (18 blocks)
        (HASHGRAD_DEVNET.jobs, 0, 1, 1, 30, "round-unknown"),
    ],
)
def test_check_round_open(jobs, job_id, epoch, round_index, tip, reason):
    ann = make_announcement(KEY, job_id, epoch, round_index, ARTIFACT)
    if reason is None:
        check_round_open(jobs, ann, tip)
        return
    with pytest.raises(ProtocolError) as info:
        check_round_open(jobs, ann, tip)
    assert info.value.reason == reason


def test_round_index_first_wins_and_is_bounded(monkeypatch):
    index = RoundIndex()
    first = make_announcement(KEY, 0, 1, 0, ARTIFACT)
    assert index.add(first) and not index.add(make_announcement(KEY, 0, 1, 0, bytes(32)))
    assert index.get(0, 1) == [first] and index.get(0, 1, 1) == [] and index.get(1, 1) == []
    with pytest.raises(ProtocolError) as info:
        index.add(replace(make_announcement(SigningKey.generate(), 0, 1, 0, ARTIFACT), artifact_id=bytes(32)))
    assert info.value.reason == "bad-announcement-signature"
    monkeypatch.setattr(rounds, "MAX_PER_ROUND", 2)
    monkeypatch.setattr(rounds, "MAX_ROUNDS", 2)
    assert index.add(make_announcement(SigningKey.generate(), 0, 1, 0, ARTIFACT))
    assert not index.add(make_announcement(SigningKey.generate(), 0, 1, 0, ARTIFACT))  # the round is full
    for epoch in (2, 3):
        index.add(make_announcement(KEY, 0, epoch, 0, ARTIFACT))
    assert index.get(0, 1) == [] and len(index.get_all()) == 2  # the oldest round was dropped
