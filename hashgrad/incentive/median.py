"""Stake-weighted median per column: the consensus weight C_j that a kappa majority of stake backs.

Subtensor's `weighted_median_col` drops the rows with zero stake, renormalises the rest (sum
S, about 1), sets minority = S - kappa and runs a quickselect-style recursion (`weighted_median`).
With exact integer sums that recursion returns the unique score v with

    stake(score < v) <= minority < stake(score <= v),

the smallest score whose cumulative stake exceeds the minority; if no score qualifies (kappa <= 0)
it returns the largest score. We compute that value directly by sorting each column, which gives
the same result in O(rows log rows) per column.
"""

from __future__ import annotations

from hashgrad.incentive.linalg import Matrix, Vector, compute_normalized


def compute_weighted_median(stake: Vector, scores: Vector, minority: int) -> int:
    """The smallest score whose cumulative stake exceeds `minority` (largest score if none)."""
    pairs = sorted(zip(scores, stake))
    cumulative = 0
    for index, (score, weight) in enumerate(pairs):
        cumulative += weight
        is_last_of_value = index + 1 == len(pairs) or pairs[index + 1][0] != score
        if is_last_of_value and cumulative > minority:
            return score
    return pairs[-1][0] if pairs else 0


def compute_weighted_median_col(stake: Vector, scores: Matrix, majority: int, n_cols: int) -> Vector:
    """Consensus C_j for each column j of `scores` (rows aligned with `stake`), kappa = `majority`."""
    kept = [i for i, weight in enumerate(stake) if weight > 0]
    if not kept:
        return [0] * n_cols
    use_stake = compute_normalized([stake[i] for i in kept])
    minority = sum(use_stake) - majority
    use_rows = [scores[i] for i in kept]
    return [compute_weighted_median(use_stake, list(column), minority) for column in zip(*use_rows)]
