"""Tests for hashgrad.wallet.amounts: exact decimal coins ⇄ base units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashgrad.chain.params import COIN, MAX_MONEY
from hashgrad.errors import WalletError
from hashgrad.wallet.amounts import format_amount, parse_amount


@pytest.mark.parametrize(
    "text, units",
    [
        ("1", COIN),
        ("0.1", 10_000_000),
        ("0.00000001", 1),
        ("1.5", 150_000_000),
        ("12.34567891", 1_234_567_891),
        ("21000000", MAX_MONEY),
        ("20999999.99999999", MAX_MONEY - 1),
        ("0.30000000", 30_000_000),
    ],
)
def test_parse_amount(text, units):
    assert parse_amount(text) == units


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0",
        "0.0",
        "0.00000000",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.",
        ".5",
        "1.123456789",
        "1e3",
        "1E-8",
        "NaN",
        "nan",
        "Infinity",
        "inf",
        "1_000",
        "1,5",
        "0x10",
        "01",
        "00.1",
        "\u0661",
        "1\u0660",
        "21000000.00000001",
        "99999999999999999999999999999.9",
        "1" * 40,
    ],
)
def test_parse_amount_rejects(text):
    with pytest.raises(WalletError) as info:
        parse_amount(text)
    assert info.value.reason == "bad-amount"


def test_parse_amount_zero_only_when_allowed_and_custom_reason():
    assert parse_amount("0", allow_zero=True) == 0
    assert parse_amount("0.00000000", allow_zero=True) == 0
    with pytest.raises(WalletError) as info:
        parse_amount("-0.1", allow_zero=True, reason="bad-fee")
    assert info.value.reason == "bad-fee"


def test_format_amount():
    assert format_amount(0) == "0.00000000"
    assert format_amount(1) == "0.00000001"
    assert format_amount(150_000_000) == "1.50000000"
    assert format_amount(-5) == "-0.00000005"


@given(st.integers(min_value=1, max_value=MAX_MONEY))
def test_format_then_parse_round_trips(units):
    assert parse_amount(format_amount(units)) == units


@given(st.integers(min_value=1, max_value=MAX_MONEY))
def test_parse_without_trailing_zeros(units):
    text = format_amount(units).rstrip("0").rstrip(".")
    assert parse_amount(text) == units


@given(
    st.decimals(
        min_value=Decimal("0.00000001"), max_value=Decimal(21_000_000), places=8, allow_nan=False, allow_infinity=False
    )
)
def test_parse_matches_decimal_arithmetic(value):
    text = f"{value:f}"
    assert parse_amount(text) == int(value * COIN)


@given(st.text(max_size=40))
def test_parse_any_text_is_exact_or_bad_amount(text):
    try:
        units = parse_amount(text)
    except WalletError as exc:
        assert exc.reason == "bad-amount"
        return
    assert 1 <= units <= MAX_MONEY
    assert Decimal(text) * COIN == units
