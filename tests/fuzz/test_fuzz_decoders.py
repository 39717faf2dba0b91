"""A short property-based fuzz of every decoder of untrusted bytes (hypothesis; seconds, not minutes).

Property: whatever the bytes, a decoder returns or raises HashgradError with a reason code; any other
exception fails (targets and seeds: tools/fuzz_targets.py). Two strategies per target: raw bytes, and
mutations of a valid input (so the fuzz reaches deep inside each format). The long runs are
`bench/bench_reliability.py` and the atheris harness `tools/fuzz.py` (README: Hardening).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: tools/ is not a package
from tools.fuzz_targets import TARGETS, build_seeds, mutate, run_target  # noqa: E402

SEEDS = build_seeds()
FAST = settings(
    max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_are_valid_inputs_of_their_target(name):
    for seed in SEEDS[name]:
        run_target(name, seed)


@pytest.mark.parametrize("name", sorted(TARGETS))
@FAST
@given(data=st.binary(max_size=512))
def test_raw_bytes_raise_only_project_errors(name, data):
    run_target(name, data)


@pytest.mark.parametrize("name", sorted(TARGETS))
@FAST
@given(index=st.integers(0, 7), choices=st.binary(min_size=4, max_size=48))
def test_mutated_valid_inputs_raise_only_project_errors(name, index, choices):
    seeds = SEEDS[name]
    run_target(name, mutate(seeds[index % len(seeds)], choices))
