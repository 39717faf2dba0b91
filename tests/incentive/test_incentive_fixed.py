"""hashgrad.incentive.fixed: the I32F32 rounding rules and the deterministic exponential."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext

import pytest

from hashgrad.incentive.convert import fx_from_float
from hashgrad.incentive.fixed import (
    _LN2_64,
    ONE,
    fx_div,
    fx_exp,
    fx_from_u16_proportion,
    fx_mul,
    fx_to_u16_floor,
)


def test_ln2_constant_is_floor_of_ln2_times_2_pow_64():
    getcontext().prec = 60
    assert _LN2_64 == int(Decimal(2).ln() * (Decimal(2) ** 64))


def test_fx_mul_rounds_toward_minus_infinity():
    assert fx_mul(ONE // 2, 3) == 1  # 1.5 ulp -> 1
    assert fx_mul(-(ONE // 2), 3) == -2  # -1.5 ulp -> -2
    assert fx_mul(3 * ONE, 5 * ONE) == 15 * ONE


def test_fx_div_rounds_toward_zero():
    assert fx_div(ONE, 3 * ONE) == ONE // 3
    assert fx_div(-ONE, 3 * ONE) == -(ONE // 3)
    assert fx_div(ONE, -3 * ONE) == -(ONE // 3)
    assert fx_div(7 * ONE, 2 * ONE) == 7 * ONE // 2


def test_u16_proportion_round_trip_floors():
    for value in (0, 1, 16383, 32767, 49150, 65534, 65535):
        assert fx_to_u16_floor(fx_from_u16_proportion(value)) in (value - 1, value)
    assert fx_to_u16_floor(ONE) == 65535
    assert fx_to_u16_floor(2 * ONE) == 65535
    assert fx_to_u16_floor(-ONE) == 0


@pytest.mark.parametrize(
    "x", [-20.0, -7.5, -5.0, -1.0, -0.3, 0.0, 0.25, 0.6931471805599453, 1.0, 3.987, 5.0, 12.5, 20.0]
)
def test_fx_exp_matches_exp_to_the_last_bits(x):
    got = fx_exp(fx_from_float(x)) / ONE
    want = math.exp(fx_from_float(x) / ONE)
    assert abs(got - want) <= max(want * 2.0**-40, 2.0**-31)


def test_fx_exp_clamps_to_plus_minus_20():
    assert fx_exp(fx_from_float(25.0)) == fx_exp(20 * ONE)
    assert fx_exp(fx_from_float(-300.0)) == fx_exp(-20 * ONE)
    assert fx_exp(0) == ONE
