"""Conversions between human floats and the integer units of Yuma consensus, in one place: for
validators turning scores into weights, the wallet, the CLI and tests.

Consensus never sees a float: these helpers turn floats into the ints the chain stores, exactly
(every float is a dyadic rational, so `fractions.Fraction` reads it without error; a `Decimal`
too), and turn fixed-point results back into floats for display.

* a weight row becomes u16 the way subtensor's `set_weights` stores it: scaled so its maximum is
  65535, each entry rounded half up (`compute_u16_row_from_floats`; by uid, zeros dropped:
  `compute_weights_from_scores`, what a validator commits);
* a fraction in [0, 1] (a Yuma 3 bond, kappa, a penalty) becomes round_half_up(x * 65535);
* stake floats become integers in the exact ratio of the floats (a common power-of-two scale).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any, cast

from hashgrad.errors import IncentiveError
from hashgrad.incentive.fixed import ONE, U16_MAX, fx_to_float
from hashgrad.incentive.yuma import PPM, YumaParams, YumaResult


def round_half_up(value: Fraction) -> int:
    """The nearest integer to a non-negative rational, halves rounded up."""
    return math.floor(value + Fraction(1, 2))


def is_finite_non_negative(value: object) -> bool:
    """True for an int or float (not bool) that is finite and >= 0."""
    if type(value) not in (int, float):
        return False
    number = cast(float, value)
    return math.isfinite(number) and number >= 0


def compute_u16_row_from_floats(row: Sequence[float | Decimal]) -> tuple[int, ...]:
    """A weight row of non-negative numbers max-upscaled to u16 (largest entry 65535, halves up);
    an all-zero row stays zero."""
    top = max(row, default=0)
    if top == 0:
        return (0,) * len(row)
    scale = Fraction(U16_MAX) / Fraction(top)
    return tuple(round_half_up(Fraction(value) * scale) for value in row)


def compute_weights_from_scores(scores: Mapping[int, float]) -> tuple[tuple[int, int], ...]:
    """Non-negative scores by uid as the sparse u16 row a validator sets: max-upscaled (the best
    gets 65535), zeros dropped, sorted by uid; all zero (or none): empty."""
    uids = sorted(scores)
    row = compute_u16_row_from_floats([scores[uid] for uid in uids])
    return tuple((uid, value) for uid, value in zip(uids, row) if value > 0)


def compute_u16_from_fraction(value: float) -> int:
    """A fraction in [0, 1] as u16 (value * 65535, rounded half up)."""
    return round_half_up(Fraction(value) * U16_MAX)


def compute_stake_units_from_floats(stake: Sequence[float]) -> tuple[int, ...]:
    """Non-negative floats as integers in exactly the same ratios."""
    fractions = [Fraction(value) for value in stake]
    scale = max((f.denominator for f in fractions), default=1)
    return tuple(f.numerator * (scale // f.denominator) for f in fractions)


def fx_from_float(value: float) -> int:
    """A float as I32F32, rounded to nearest (halves up); for tests and unit cases."""
    return math.floor(Fraction(value) * ONE + Fraction(1, 2))


# CLI parameters in [0, 1] that the chain stores as u16 proportions, and their YumaParams field.
FRACTION_PARAMS = {
    "kappa": "kappa_u16",
    "bonds_penalty": "bonds_penalty_u16",
    "alpha_low": "alpha_low_u16",
    "alpha_high": "alpha_high_u16",
}
OTHER_PARAMS = {"alpha", "yuma3", "liquid_alpha", "alpha_sigmoid_steepness"}


def compute_yuma_params_from_floats(values: dict[str, Any]) -> YumaParams:
    """YumaParams from the CLI's float parameters; absent keys keep subtensor's defaults."""
    unknown = sorted(set(values) - set(FRACTION_PARAMS) - OTHER_PARAMS)
    if unknown:
        raise IncentiveError("bad-yuma-params", f"unknown parameters: {', '.join(unknown)}")
    fields: dict[str, Any] = {}
    for key, field in FRACTION_PARAMS.items():
        if key in values:
            fields[field] = compute_u16_from_fraction(read_fraction(values, key))
    if "alpha" in values:
        fields["bond_alpha_ppm"] = round_half_up(Fraction(read_fraction(values, "alpha")) * PPM)
    for key in ("yuma3", "liquid_alpha"):
        if key in values:
            if type(values[key]) is not bool:
                raise IncentiveError("bad-yuma-params", f"{key} must be true or false")
            fields[key] = values[key]
    if "alpha_sigmoid_steepness" in values:
        steepness = values["alpha_sigmoid_steepness"]
        if type(steepness) not in (int, float) or not math.isfinite(steepness) or steepness != int(steepness):
            raise IncentiveError("bad-yuma-params", "alpha_sigmoid_steepness must be an integer")
        fields["alpha_sigmoid_steepness"] = int(steepness)
    return YumaParams(**fields)


def read_fraction(values: dict[str, Any], key: str) -> float:
    """values[key], checked to be a number in [0, 1]."""
    value = values[key]
    if not is_finite_non_negative(value) or value > 1:
        raise IncentiveError("bad-yuma-params", f"{key} must be a number in [0, 1]")
    return value


def compute_float_report(result: YumaResult) -> dict[str, Any]:
    """The epoch's outputs as floats; bonds as stored u16 / 65535 in both Yuma variants."""
    return {
        "consensus": [fx_to_float(v) for v in result.consensus],
        "incentive": [fx_to_float(v) for v in result.incentive],
        "dividends": [fx_to_float(v) for v in result.dividends],
        "bonds": [[b / U16_MAX for b in row] for row in result.bonds],
        "validator_trust": [fx_to_float(v) for v in result.validator_trust],
    }
