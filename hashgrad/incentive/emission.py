"""The epoch payout in integer base units: a job's pool paid to miners and validators.

* `compute_emission_split`: a job's pool accrued over an epoch, paid to miners by Yuma incentive
  and to validators by Yuma dividends, with subtensor's fallbacks.

The block subsidy itself (its halving and its split between the block maker and the job pools) is
the chain's rule, `chain/subsidy.py`; subtensor's issuance-based halving and owner cut are not used.

Every split is exact: the parts always add up to the amount split. Remainders go by the
largest-remainder rule (`compute_ratio_split`): each part first gets floor(amount * w_i / W), then
the units left over (fewer than the number of parts) go one each to the parts with the largest
discarded fractions, ties to the lower index (uid). The result does not depend on platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hashgrad.errors import IncentiveError


@dataclass(frozen=True)
class EmissionSplit:
    """An epoch payout in base units; sum(miner) + sum(validator) + unpaid == pool."""

    miner_emission: tuple[int, ...]
    validator_emission: tuple[int, ...]
    unpaid: int  # nobody to pay (no incentive, dividends or stake): the caller carries it over


def check_amount(amount: object, what: str) -> None:
    """Raise IncentiveError('bad-amount') unless `amount` is a non-negative int."""
    if type(amount) is not int or amount < 0:
        raise IncentiveError("bad-amount", f"{what} must be a non-negative integer")


def check_weights(weights: Sequence[int], what: str) -> None:
    """Raise IncentiveError('bad-split-weights') unless every weight is a non-negative int."""
    if not all(type(w) is int and w >= 0 for w in weights):
        raise IncentiveError("bad-split-weights", f"{what} must be non-negative integers")


def check_split_ratio(miner_ratio: int, validator_ratio: int) -> None:
    """Raise IncentiveError('bad-emission-params') unless both are non-negative ints, not both 0."""
    if not all(type(r) is int and r >= 0 for r in (miner_ratio, validator_ratio)):
        raise IncentiveError("bad-emission-params", "miner and validator ratios must be non-negative ints")
    if miner_ratio + validator_ratio == 0:
        raise IncentiveError("bad-emission-params", "miner and validator ratios are both zero")


def compute_ratio_split(amount: int, weights: Sequence[int]) -> tuple[int, ...]:
    """`amount` shared in proportion to `weights` by largest remainder; zero weights get 0.

    All-zero weights share nothing (every part 0), so the caller decides what to do with it.
    """
    check_amount(amount, "amount")
    check_weights(weights, "weights")
    total = sum(weights)
    if total == 0:
        return (0,) * len(weights)
    parts = [amount * w // total for w in weights]
    left = amount - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return tuple(parts)


def compute_emission_split(
    pool: int,
    incentive: Sequence[int],
    dividends: Sequence[int],
    stake: Sequence[int],
    miner_ratio: int = 1,
    validator_ratio: int = 1,
) -> EmissionSplit:
    """Pay a job's epoch pool: miners by incentive, validators by dividends (all per uid).

    The pool is first split miners:validators by the ratio (largest remainder, so an odd unit goes
    to the miners on a tie). Then, as subtensor's `distribute_emission` and epoch do: with no
    incentive at all the miners' part goes to the validators; with no dividends the validators'
    part is paid by stake; if nobody can be paid the amount is returned as `unpaid`.
    """
    check_amount(pool, "pool")
    n = len(incentive)
    if len(dividends) != n or len(stake) != n:
        raise IncentiveError("bad-split-weights", "incentive, dividends and stake differ in length")
    check_weights(incentive, "incentive")
    check_weights(dividends, "dividends")
    check_weights(stake, "stake")
    check_split_ratio(miner_ratio, validator_ratio)
    miner_part, validator_part = compute_ratio_split(pool, (miner_ratio, validator_ratio))
    if not any(incentive):
        miner_part, validator_part = 0, miner_part + validator_part
    validator_weights = dividends if any(dividends) else stake
    unpaid = 0
    if not any(validator_weights):
        if any(incentive):
            miner_part += validator_part  # nobody to pay on the validator side: miners take it
        else:
            unpaid = validator_part
        validator_part = 0
    return EmissionSplit(
        miner_emission=compute_ratio_split(miner_part, incentive),
        validator_emission=compute_ratio_split(validator_part, validator_weights),
        unpaid=unpaid,
    )
