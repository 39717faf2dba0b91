"""Difficulty rules: Bitcoin's GetNextWorkRequired with the 4x clamp, powLimit, the 2015-interval
quirk, testnet's 20-minute minimum-difficulty rule, and PermittedDifficultyTransition.

Ancestors are read through a small `Ancestry` protocol (time and bits by height on the chain being
extended), so the same rules serve the Bitcoin header follower and hashgrad's chainstate.
"""

from __future__ import annotations

from typing import Protocol

from hashgrad.chain.params import PowParams
from hashgrad.chain.pow import decode_compact, encode_compact


class Ancestry(Protocol):
    """Time and bits by height. An ancestry may also offer `last_non_min_difficulty_bits_at(height)`,
    kept incrementally with `compute_next_walk_back_bits`; testnet then skips the O(2016) walk."""

    def time_at(self, height: int) -> int: ...

    def bits_at(self, height: int) -> int: ...


def compute_next_work_required(pow: PowParams, ancestry: Ancestry, prev_height: int, new_time: int) -> int:
    """nBits that the block at prev_height + 1 must carry (GetNextWorkRequired)."""
    interval = pow.adjustment_interval
    prev_bits = ancestry.bits_at(prev_height)
    limit_bits = encode_compact(pow.pow_limit)
    if (prev_height + 1) % interval != 0:
        if pow.allow_min_difficulty_blocks:
            if new_time > ancestry.time_at(prev_height) + pow.target_spacing * 2:
                return limit_bits
            tracked = getattr(ancestry, "last_non_min_difficulty_bits_at", None)
            if tracked is not None:
                return tracked(prev_height)
            return compute_last_non_min_difficulty_bits(ancestry, prev_height, interval, limit_bits)
        return prev_bits
    if pow.no_retargeting:
        return prev_bits
    blocks_back = interval if pow.retarget_full_window else interval - 1
    first_height = max(prev_height - blocks_back, 0)
    return compute_retarget(pow, prev_bits, ancestry.time_at(prev_height), ancestry.time_at(first_height))


def compute_last_non_min_difficulty_bits(ancestry: Ancestry, height: int, interval: int, limit_bits: int) -> int:
    """Testnet walk-back: the bits of the last block that was not a minimum-difficulty block."""
    while height > 0 and height % interval != 0 and ancestry.bits_at(height) == limit_bits:
        height -= 1
    return ancestry.bits_at(height)


def compute_next_walk_back_bits(
    walk_back_bits_before: int, height: int, bits: int, interval: int, limit_bits: int
) -> int:
    """The walk-back result at `height` from the one at height - 1, in O(1).

    The walk stops at a block that is genesis, starts a window or is not at minimum difficulty, and
    otherwise continues from its parent, so walk(h) = bits(h) at a stop and walk(h - 1) elsewhere.
    """
    if height == 0 or height % interval == 0 or bits != limit_bits:
        return bits
    return walk_back_bits_before


def compute_retarget(pow: PowParams, last_bits: int, last_time: int, first_time: int) -> int:
    """CalculateNextWorkRequired: scale the last target by the clamped timespan, cap at powLimit."""
    if pow.no_retargeting:
        return last_bits
    span = last_time - first_time
    span = min(max(span, pow.target_timespan // 4), pow.target_timespan * 4)
    target = decode_compact(last_bits).value * span // pow.target_timespan
    return encode_compact(min(target, pow.pow_limit))


def is_permitted_difficulty_transition(pow: PowParams, height: int, old_bits: int, new_bits: int) -> bool:
    """PermittedDifficultyTransition: at a retarget height new lies within the rounded old/4..old*4."""
    if pow.allow_min_difficulty_blocks:
        return True
    if height % pow.adjustment_interval != 0:
        return old_bits == new_bits
    old_target = decode_compact(old_bits).value
    new_target = decode_compact(new_bits).value
    largest = min(old_target * 4, pow.pow_limit)
    smallest = old_target // 4
    largest = decode_compact(encode_compact(largest)).value
    smallest = decode_compact(encode_compact(smallest)).value
    return smallest <= new_target <= largest
