"""The roles' epoch loop survives any single bad input (hashgrad.roles.common.run_epoch_loop).

Before the fix only RpcError was caught, so a WorkError (or a bug's RecursionError) raised while
scoring one miner's artifact ended the validator process.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hashgrad.chain.jobs import JobParams
from hashgrad.errors import WorkError
from hashgrad.roles.common import run_epoch_loop


class FixedClock:
    """The one node call the loop makes itself (the step under test makes none)."""

    def get_job(self, job_id: int) -> SimpleNamespace:
        return SimpleNamespace(height=5, next_block_epoch=0, next_block_offset=5)


@pytest.mark.parametrize("error", [WorkError("bad-header", "hostile artifact"), RecursionError("deep JSON")])
def test_epoch_loop_goes_on_after_a_step_raises(error):
    calls = []

    def step(clock):
        calls.append(clock.offset)
        if len(calls) == 1:
            raise error

    run_epoch_loop(FixedClock(), JobParams(0, "train", "training"), step, lambda: len(calls) >= 3, 0.0)
    assert calls == [5, 5, 5]
