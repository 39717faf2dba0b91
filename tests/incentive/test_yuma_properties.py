"""Properties of compute_yuma_epoch over random inputs (hypothesis), and its input checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashgrad.errors import IncentiveError
from hashgrad.incentive.fixed import ONE
from hashgrad.incentive.yuma import YumaParams, compute_yuma_epoch

u16 = st.integers(min_value=0, max_value=65535)
# Sparse-ish u16 weights: many zeros and repeated values exercise ties in the median.
weight_value = st.one_of(st.just(0), st.just(65535), st.sampled_from([16383, 32767]), u16)


@st.composite
def epochs(draw, max_n=7):
    n = draw(st.integers(min_value=1, max_value=max_n))
    stake = draw(st.lists(st.one_of(st.just(0), st.integers(min_value=1, max_value=10**15)), min_size=n, max_size=n))
    weights = draw(st.lists(st.lists(weight_value, min_size=n, max_size=n), min_size=n, max_size=n))
    bonds = draw(st.none() | st.lists(st.lists(weight_value, min_size=n, max_size=n), min_size=n, max_size=n))
    low = draw(u16)
    params = YumaParams(
        kappa_u16=draw(u16),
        bonds_penalty_u16=draw(st.sampled_from([0, 65535]) | u16),
        bond_alpha_ppm=draw(st.integers(min_value=0, max_value=1_000_000)),
        yuma3=draw(st.booleans()),
        liquid_alpha=draw(st.booleans()),
        alpha_low_u16=low,
        alpha_high_u16=draw(st.integers(min_value=low, max_value=65535)),
        alpha_sigmoid_steepness=draw(st.integers(min_value=-32768, max_value=32767)),
    )
    return weights, stake, bonds, params


def assert_sums_to_one_or_zero(vector):
    total = sum(vector)
    # Each entry is floored once when normalised, so the sum misses 1 by at most one ulp per entry.
    assert total == 0 or ONE - len(vector) <= total <= ONE, total


@settings(max_examples=150, deadline=None)
@given(epochs())
def test_incentive_and_dividends_sum_to_one_or_zero(epoch):
    weights, stake, bonds, params = epoch
    result = compute_yuma_epoch(weights, stake, bonds, params)
    assert_sums_to_one_or_zero(result.incentive)
    assert_sums_to_one_or_zero(result.dividends)
    n = len(stake)
    for uid in range(n):
        assert all(type(v) is int for v in (result.consensus[uid], result.incentive[uid], result.dividends[uid]))
        assert all(0 <= b <= 65535 for b in result.bonds[uid])
        assert 0 <= result.consensus[uid] <= ONE and 0 <= result.validator_trust[uid] <= ONE
        if stake[uid] == 0:  # no permit: no dividends, no bonds, no say in consensus
            assert result.dividends[uid] == 0 and not any(result.bonds[uid]) and result.validator_trust[uid] == 0


@settings(max_examples=100, deadline=None)
@given(epochs(), st.randoms(use_true_random=False))
def test_permuting_uids_permutes_every_output(epoch, rng):
    weights, stake, bonds, params = epoch
    n = len(stake)
    order = list(range(n))
    rng.shuffle(order)  # new uid k is old uid order[k]

    def permute_matrix(m):
        return None if m is None else [[m[order[i]][order[j]] for j in range(n)] for i in range(n)]

    base = compute_yuma_epoch(weights, stake, bonds, params)
    moved = compute_yuma_epoch(permute_matrix(weights), [stake[i] for i in order], permute_matrix(bonds), params)
    for name in ("consensus", "incentive", "dividends", "validator_trust", "ranks", "trust"):
        assert list(getattr(moved, name)) == [getattr(base, name)[i] for i in order], name
    assert [list(row) for row in moved.bonds] == permute_matrix(base.bonds)


def test_validator_permits_override_masks_a_staked_uid():
    weights = [[0, 0, 65535], [0, 0, 65535], [0, 0, 0]]
    allowed = compute_yuma_epoch(weights, [1, 1, 0], None, YumaParams())
    masked = compute_yuma_epoch(weights, [1, 1, 0], None, YumaParams(), validator_permits=[True, False, False])
    assert allowed.dividends[1] > 0 and masked.dividends[1] == 0
    assert masked.dividends[0] == ONE and masked.incentive[2] == ONE


def test_self_weight_is_ignored():
    result = compute_yuma_epoch([[65535, 0], [0, 0]], [1, 0], None, YumaParams())
    assert not any(result.consensus) and not any(result.incentive) and not any(result.dividends)


def test_empty_epoch():
    result = compute_yuma_epoch([], [], None, YumaParams())
    assert result.incentive == () and result.bonds == ()


square = [[0, 1], [1, 0]]


@pytest.mark.parametrize(
    "weights, stake, bonds, params, reason",
    [
        (square, [1, -1], None, YumaParams(), "bad-stake"),
        (square, [1, 0.5], None, YumaParams(), "bad-stake"),
        (square, [1, True], None, YumaParams(), "bad-stake"),
        (square, [0] * 4097, None, YumaParams(), "bad-stake"),
        ([[0, 1]], [1, 1], None, YumaParams(), "bad-weights-shape"),
        ([[0, 1], [1]], [1, 1], None, YumaParams(), "bad-weights-shape"),
        ([[0, 65536], [1, 0]], [1, 1], None, YumaParams(), "bad-weights"),
        (square, [1, 1], [[0, 1, 2], [1, 0, 2]], YumaParams(), "bad-bonds-shape"),
        (square, [1, 1], [[0, -1], [1, 0]], YumaParams(), "bad-bonds"),
        (square, [1, 1], None, YumaParams(kappa_u16=65536), "bad-yuma-params"),
        (square, [1, 1], None, YumaParams(alpha_low_u16=50000, alpha_high_u16=40000), "bad-yuma-params"),
        (square, [1, 1], None, YumaParams(alpha_sigmoid_steepness=40000), "bad-yuma-params"),
        (square, [1, 1], None, YumaParams(bond_alpha_ppm=1_000_001), "bad-yuma-params"),
    ],
)
def test_compute_yuma_epoch_rejects_bad_inputs(weights, stake, bonds, params, reason):
    with pytest.raises(IncentiveError) as info:
        compute_yuma_epoch(weights, stake, bonds, params)
    assert info.value.reason == reason
