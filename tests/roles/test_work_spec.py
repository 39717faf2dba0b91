"""A job's work_spec: its preset and the round rhythm it may set (rounds_per_epoch, inner_steps)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from hashgrad.chain.jobs import compute_round_close_height, get_rounds_per_epoch
from hashgrad.chain.params import HASHGRAD_DEVNET, HASHGRAD_DEVNET_ROUNDS
from hashgrad.errors import HashgradError
from hashgrad.roles.common import get_work_overrides, get_work_preset
from hashgrad.work.params import get_preset


def test_get_work_overrides_default_job_keeps_the_preset():
    job = HASHGRAD_DEVNET.jobs[0]
    assert get_work_preset(job) == "demo" and get_work_overrides(job) == {} and get_rounds_per_epoch(job) == 1
    assert get_preset(get_work_preset(job), **get_work_overrides(job)) == get_preset("demo")


def test_get_work_overrides_rounds_network():
    job = HASHGRAD_DEVNET_ROUNDS.jobs[0]
    assert get_work_overrides(job) == {"rounds_per_epoch": 2, "inner_steps": 10}
    params = get_preset(get_work_preset(job), **get_work_overrides(job))
    assert params.rounds_per_epoch == 2 and params.inner_steps == 10 and get_rounds_per_epoch(job) == 2
    # the commit-work window (28 blocks) holds two rounds of 14: epoch 3 starts at height 133
    assert [compute_round_close_height(job, 3, r) for r in range(2)] == [147, 161]


@pytest.mark.parametrize("value", ["2", 0, -1, 1.5, True])
def test_invalid_work_spec_rounds(value):
    job = replace(HASHGRAD_DEVNET.jobs[0], work_spec=json.dumps({"preset": "demo", "rounds_per_epoch": value}))
    with pytest.raises(HashgradError) as info:
        get_work_overrides(job)
    assert info.value.reason == "bad-work-spec" and get_rounds_per_epoch(job) == 1
