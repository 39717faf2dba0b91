"""hashgrad.incentive.emission: exact splits in base units, fallbacks, bad inputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashgrad.errors import IncentiveError
from hashgrad.incentive.emission import (
    compute_emission_split,
    compute_ratio_split,
)


def test_compute_ratio_split_largest_remainder_ties_to_lower_index():
    assert compute_ratio_split(10, (1, 1, 1)) == (4, 3, 3)
    assert compute_ratio_split(10, (1, 2)) == (3, 7)
    assert compute_ratio_split(5, (0, 3, 0, 3)) == (0, 3, 0, 2)
    assert compute_ratio_split(7, (0, 0)) == (0, 0)
    assert compute_ratio_split(0, (5, 1)) == (0, 0)


def test_compute_emission_split_pays_by_incentive_and_dividends():
    split = compute_emission_split(1000, (0, 0, 3, 1), (1, 1, 0, 0), (5, 5, 0, 0))
    assert split.miner_emission == (0, 0, 375, 125)
    assert split.validator_emission == (250, 250, 0, 0)
    assert split.unpaid == 0


def test_compute_emission_split_without_incentive_pays_validators_everything():
    split = compute_emission_split(1000, (0, 0), (0, 0), (1, 3))
    assert split.miner_emission == (0, 0)
    assert split.validator_emission == (250, 750)


def test_compute_emission_split_without_validators_pays_miners_everything():
    split = compute_emission_split(1001, (1, 0), (0, 0), (0, 0))
    assert split.miner_emission == (1001, 0) and split.unpaid == 0


def test_compute_emission_split_with_nobody_to_pay_returns_pool_unpaid():
    split = compute_emission_split(77, (0, 0), (0, 0), (0, 0))
    assert split.unpaid == 77 and not any(split.miner_emission + split.validator_emission)


def test_compute_emission_split_uneven_ratio():
    split = compute_emission_split(100, (1,), (1,), (1,), miner_ratio=3, validator_ratio=1)
    assert split.miner_emission == (75,) and split.validator_emission == (25,)


@pytest.mark.parametrize(
    "call, reason",
    [
        (lambda: compute_ratio_split(-1, (1,)), "bad-amount"),
        (lambda: compute_ratio_split(10, (1, -2)), "bad-split-weights"),
        (lambda: compute_emission_split(10, (1,), (1, 2), (1,)), "bad-split-weights"),
        (lambda: compute_emission_split(10, (1,), (1,), (1,), 0, 0), "bad-emission-params"),
    ],
)
def test_emission_invalid_inputs(call, reason):
    with pytest.raises(IncentiveError) as info:
        call()
    assert info.value.reason == reason


weights_lists = st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(min_value=0, max_value=10**18), weights=weights_lists)
def test_compute_ratio_split_is_exact_and_within_one_unit(amount, weights):
    parts = compute_ratio_split(amount, weights)
    total = sum(weights)
    assert sum(parts) == (amount if total else 0)
    for part, weight in zip(parts, weights):
        if total:
            assert amount * weight // total <= part <= amount * weight // total + 1
        if weight == 0:
            assert part == 0


@settings(max_examples=200, deadline=None)
@given(
    pool=st.integers(min_value=0, max_value=21 * 10**14),
    data=st.data(),
    ratio=st.tuples(st.integers(0, 100), st.integers(0, 100)).filter(lambda r: sum(r) > 0),
)
def test_compute_emission_split_sums_exactly_to_the_pool(pool, data, ratio):
    n = data.draw(st.integers(min_value=1, max_value=10))
    vector = st.lists(st.integers(min_value=0, max_value=2**32), min_size=n, max_size=n)
    incentive, dividends, stake = data.draw(vector), data.draw(vector), data.draw(vector)
    split = compute_emission_split(pool, incentive, dividends, stake, *ratio)
    assert sum(split.miner_emission) + sum(split.validator_emission) + split.unpaid == pool
    assert all(v >= 0 for v in split.miner_emission + split.validator_emission)
    if any(incentive) or any(dividends) or any(stake):
        assert split.unpaid == 0
