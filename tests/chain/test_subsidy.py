"""Block subsidy (GetBlockSubsidy) and hashgrad's exact maker/job-pool split."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hashgrad.chain.params import COIN, HASHGRAD_MAIN
from hashgrad.chain.subsidy import compute_block_subsidy, compute_subsidy_split

BTC_INTERVAL = 210_000


def test_compute_block_subsidy_halvings():
    assert compute_block_subsidy(0, 50 * COIN, BTC_INTERVAL) == 5_000_000_000
    assert compute_block_subsidy(209_999, 50 * COIN, BTC_INTERVAL) == 5_000_000_000
    assert compute_block_subsidy(210_000, 50 * COIN, BTC_INTERVAL) == 2_500_000_000
    assert compute_block_subsidy(840_000, 50 * COIN, BTC_INTERVAL) == 312_500_000  # the 2024 halving
    assert compute_block_subsidy(32 * BTC_INTERVAL, 50 * COIN, BTC_INTERVAL) == 50 * COIN >> 32 == 1
    assert compute_block_subsidy(33 * BTC_INTERVAL, 50 * COIN, BTC_INTERVAL) == 0
    assert compute_block_subsidy(449, 50 * COIN, 150) == 50 * COIN >> 2  # regtest's interval


def test_compute_block_subsidy_zero_at_shift_64():
    """Core forces zero at 64 halvings (a shift of 64 is undefined in C++), whatever the initial value."""
    big = 1 << 100
    assert compute_block_subsidy(63 * BTC_INTERVAL, big, BTC_INTERVAL) == 1 << 37
    assert compute_block_subsidy(64 * BTC_INTERVAL, big, BTC_INTERVAL) == 0
    assert compute_block_subsidy(10**12, big, BTC_INTERVAL) == 0


def test_total_bitcoin_supply():
    total = sum(compute_block_subsidy(h * BTC_INTERVAL, 50 * COIN, BTC_INTERVAL) * BTC_INTERVAL for h in range(70))
    assert total == 2_099_999_997_690_000
    # The subsidy is constant inside each halving period.
    for h in range(0, 40):
        start = h * BTC_INTERVAL
        assert compute_block_subsidy(start + BTC_INTERVAL - 1, 50 * COIN, BTC_INTERVAL) == compute_block_subsidy(
            start, 50 * COIN, BTC_INTERVAL
        )


def test_compute_subsidy_split_main():
    maker, pools = compute_subsidy_split(50 * COIN, HASHGRAD_MAIN.block_maker_share_bps, HASHGRAD_MAIN.job_shares_bps)
    assert maker == 50 * COIN * 1_800 // 10_000 == 900_000_000
    assert pools == {0: 2_870_000_000, 1: 1_230_000_000}
    assert compute_subsidy_split(7, 1_800, ()) == (7, {})


def _partition(cuts: list[int]) -> tuple[tuple[int, int], ...]:
    """Job shares that sum to exactly 10,000 bps (a valid configuration)."""
    bounds = [0] + sorted(cuts) + [10_000]
    return tuple((job, bounds[job + 1] - bounds[job]) for job in range(len(bounds) - 1))


shares = st.lists(st.integers(0, 10_000), min_size=0, max_size=4).map(_partition)


@given(st.integers(0, 50 * COIN), st.integers(0, 10_000), shares)
def test_compute_subsidy_split_sums_exactly(subsidy, maker_bps, job_shares):
    maker, pools = compute_subsidy_split(subsidy, maker_bps, job_shares)
    assert maker + sum(pools.values()) == subsidy
    assert maker == subsidy * maker_bps // 10_000
    assert set(pools) == {job for job, _ in job_shares}
    assert all(amount >= 0 for amount in pools.values())
