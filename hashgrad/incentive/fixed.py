"""I32F32 fixed-point arithmetic on plain Python ints, the number type of Yuma consensus.

Subtensor computes its epoch in `substrate_fixed::I32F32` (a signed 64-bit integer counting units
of 2**-32). We keep the same representation: a value x is the int `round_down(x * 2**32)`, and
every operation is an exact integer formula, so results are identical on every platform and
Python version. No float ever enters a consensus path; floats appear only in `convert.py`.

Rounding, mirroring the `fixed` crate where it defines one:
  * `fx_mul(a, b)`: the exact product `a*b` shifted right by 32, i.e. rounded toward -infinity
    (the `fixed` crate widens and shifts arithmetically, which is the same thing).
  * `fx_div(a, b)`: `(a << 32) / b` rounded toward zero (Rust integer division); for the
    non-negative values Yuma divides this equals the floor.
  * `fx_to_u16_floor(x)`: the integer part, rounded toward -infinity (`fixed`'s `to_num`).
  * `fx_exp(x)`: e**x computed with 64 extra fractional bits (range reduction by ln 2, a Taylor
    series with every term floored) and then floored to I32F32; the input is clamped to
    [-20, 20] first, like subtensor's `exp_safe`. It is deterministic but is not the `fixed`
    crate's series, so its last bit can differ from Rust's.

Saturation: Rust saturates at +-2**31; Python ints do not overflow. Yuma's values stay in
[0, n] for n <= 4096 uids and the clamped exponential stays below e**20 < 2**29, so saturation is
never reached and the two agree.
"""

from __future__ import annotations

FRAC_BITS = 32
ONE = 1 << FRAC_BITS
HALF = 1 << (FRAC_BITS - 1)
U16_MAX = 65535

# ln(2) * 2**64, floored (from a 80-digit decimal evaluation; checked in the tests).
_EXP_BITS = 64
_LN2_64 = 12786308645202655659
_EXP_CLAMP = 20 * ONE


def fx_from_int(value: int) -> int:
    """The fixed-point number equal to the integer `value`."""
    return value << FRAC_BITS


def fx_mul(a: int, b: int) -> int:
    """a * b, rounded toward -infinity."""
    return (a * b) >> FRAC_BITS


def fx_div(a: int, b: int) -> int:
    """a / b rounded toward zero; the caller guarantees b != 0."""
    numerator = a << FRAC_BITS
    quotient = abs(numerator) // abs(b)
    return quotient if (numerator >= 0) == (b > 0) else -quotient


def fx_ratio(numerator: int, denominator: int) -> int:
    """The fixed-point value of numerator/denominator for non-negative ints, floored."""
    return (numerator << FRAC_BITS) // denominator


def fx_from_u16_proportion(value: int) -> int:
    """A u16 proportion (value / 65535) as fixed point, as subtensor's I32F32 division gives it."""
    return fx_div(fx_from_int(value), fx_from_int(U16_MAX))


def fx_to_u16_floor(x: int) -> int:
    """floor(x * 65535) as a u16 proportion, clamped to [0, 65535]."""
    return min(max((x * U16_MAX) >> FRAC_BITS, 0), U16_MAX)


def fx_clamp(x: int, low: int, high: int) -> int:
    """x limited to [low, high]."""
    return low if x < low else high if x > high else x


def fx_exp(x: int) -> int:
    """e**x for fixed-point x (clamped to [-20, 20]), floored to I32F32."""
    wide = fx_clamp(x, -_EXP_CLAMP, _EXP_CLAMP) << (_EXP_BITS - FRAC_BITS)
    k = wide // _LN2_64  # x = k*ln2 + r with 0 <= r < ln2
    r = wide - k * _LN2_64
    one = 1 << _EXP_BITS
    total, term, i = one, one, 1
    while term:
        term = (term * r >> _EXP_BITS) // i
        total += term
        i += 1
    scaled = total << k if k >= 0 else total >> -k
    return scaled >> (_EXP_BITS - FRAC_BITS)


def fx_to_float(x: int) -> float:
    """The float value of a fixed-point number (exact: |x| < 2**53). For display only."""
    return x / ONE
