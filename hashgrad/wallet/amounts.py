"""Amounts as users type them (decimal coins) and as the chain stores them (integer base units).

Parsing is exact: `"0.1"` is 10,000,000 base units, never a float's approximation. Only plain
ASCII decimals are accepted (no sign, exponent, underscores, spaces, `NaN` or non-ASCII digits,
which `Decimal()` alone would take), with at most 8 fractional digits and at most `MAX_MONEY`.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext

from hashgrad.chain.params import COIN, MAX_MONEY
from hashgrad.errors import WalletError

MAX_AMOUNT_TEXT = 32
_AMOUNT_RE = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]{1,8})?", re.ASCII)


def parse_amount(text: str, *, allow_zero: bool = False, reason: str = "bad-amount") -> int:
    """Base units of a decimal coin amount; WalletError(reason) for anything not exactly representable."""
    if not isinstance(text, str) or len(text) > MAX_AMOUNT_TEXT or not _AMOUNT_RE.fullmatch(text):
        raise WalletError(reason, "an amount is a plain decimal number of coins with at most 8 decimals, e.g. 1.5")
    with localcontext() as ctx:
        ctx.prec = 2 * MAX_AMOUNT_TEXT  # wide enough that nothing a 32-character text holds is rounded
        value = int(Decimal(text) * COIN)  # exact: the regex allows at most 8 decimals
    if value > MAX_MONEY:
        raise WalletError(reason, "more than the 21,000,000-coin money supply")
    if value == 0 and not allow_zero:
        raise WalletError(reason, "amount must be positive")
    return value


def format_amount(units: int) -> str:
    """Base units as coins with all 8 decimals (`150000000` → `"1.50000000"`)."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), COIN)
    return f"{sign}{whole}.{frac:08d}"
