"""A job's work_spec: its preset and the round rhythm it may set (rounds_per_epoch, inner_steps)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from hashgrad.chain.jobs import compute_round_close_height, get_rounds_per_epoch
from hashgrad.chain.params import HASHGRAD_DEVNET, HASHGRAD_DEVNET_ROUNDS
from hashgrad.errors import HashgradError
from hashgrad.roles.common import get_work_overrides, get_work_preset
from hashgrad.roles.round_validator import is_round_tested
from hashgrad.work.params import get_preset


def test_get_work_overrides_default_job_keeps_the_preset():
    job = HASHGRAD_DEVNET.jobs[0]
    assert get_work_preset(job) == "demo" and get_work_overrides(job) == {} and get_rounds_per_epoch(job) == 1
    assert get_preset(get_work_preset(job), **get_work_overrides(job)) == get_preset("demo")


def test_get_work_overrides_rounds_network():
    job = HASHGRAD_DEVNET_ROUNDS.jobs[0]
    assert get_work_overrides(job) == {"rounds_per_epoch": 2, "inner_steps": 10, "score_fraction": 0.5}
    params = get_preset(get_work_preset(job), **get_work_overrides(job))
    assert (
        params.rounds_per_epoch == 2
        and params.inner_steps == 10
        and params.score_fraction == 0.5
        and get_rounds_per_epoch(job) == 2
    )
    # the commit-work window (28 blocks) holds two rounds of 14: epoch 3 starts at height 133
    assert [compute_round_close_height(job, 3, r) for r in range(2)] == [147, 161]


@pytest.mark.parametrize(
    "key, value",
    [("rounds_per_epoch", v) for v in ("2", 0, -1, 1.5, True)] + [("score_fraction", v) for v in (0, 1.5, "1")],
)
def test_invalid_work_spec_rounds(key, value):
    job = replace(HASHGRAD_DEVNET.jobs[0], work_spec=json.dumps({"preset": "demo", key: value}))
    with pytest.raises(HashgradError) as info:
        get_work_overrides(job)
    assert info.value.reason == "bad-work-spec" and get_rounds_per_epoch(job) == 1


def test_is_round_tested_draws_the_share_of_rounds():
    salts = [hashlib.sha256(bytes([i])).digest() for i in range(200)]
    assert all(is_round_tested(s, 1.0) for s in salts)
    assert 70 < sum(is_round_tested(s, 0.5) for s in salts) < 130
