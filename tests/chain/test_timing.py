"""Median-time-past (11 blocks, sorted[n // 2]) and the 2-hour future limit."""

from __future__ import annotations

import pytest

from hashgrad.chain.timing import check_header_time, compute_median_time_past
from hashgrad.errors import HeaderError


def test_compute_median_time_past():
    assert compute_median_time_past([5]) == 5
    assert compute_median_time_past([3, 1]) == 3  # sorted [1, 3][1]
    assert compute_median_time_past([10, 2, 8, 4]) == 8
    assert compute_median_time_past(list(range(100, 0, -1))) == 6  # only the last 11 (11..1) count


def test_check_header_time():
    check_header_time(101, 100, None)
    check_header_time(101, 100, 101 - 7200)


def test_invalid_time_too_old():
    with pytest.raises(HeaderError) as err:
        check_header_time(100, 100, None)
    assert err.value.reason == "time-too-old"


def test_invalid_time_too_new():
    with pytest.raises(HeaderError) as err:
        check_header_time(10_000, 100, 10_000 - 7201)
    assert err.value.reason == "time-too-new"
