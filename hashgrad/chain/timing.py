"""Time rules of headers: median-time-past over 11 blocks and the 2-hour future limit."""

from __future__ import annotations

from hashgrad.chain.params import MAX_FUTURE_BLOCK_TIME, MEDIAN_TIME_SPAN
from hashgrad.errors import HeaderError


def compute_median_time_past(times: list[int]) -> int:
    """Median of the last (up to) 11 block times, sorted[n // 2] as in CBlockIndex::GetMedianTimePast."""
    window = sorted(times[-MEDIAN_TIME_SPAN:])
    return window[len(window) // 2]


def check_header_time(new_time: int, median_time_past: int, now: int | None) -> None:
    if new_time <= median_time_past:
        raise HeaderError("time-too-old", f"time {new_time} is not after median time past {median_time_past}")
    if now is not None and new_time > now + MAX_FUTURE_BLOCK_TIME:
        raise HeaderError("time-too-new", f"time {new_time} is more than 2 hours past the local clock {now}")
