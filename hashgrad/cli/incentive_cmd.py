"""`hashgrad incentive yuma`: run one epoch of Yuma consensus on JSON from stdin, print JSON.

A thin shell over `hashgrad.incentive`: it reads and validates the request, converts floats to the
integer units the chain uses (`incentive/convert.py`), runs `compute_yuma_epoch` and prints floats.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hashgrad.errors import IncentiveError
from hashgrad.incentive.convert import (
    compute_float_report,
    compute_stake_units_from_floats,
    compute_u16_from_fraction,
    compute_u16_row_from_floats,
    compute_yuma_params_from_floats,
    is_finite_non_negative,
)
from hashgrad.incentive.yuma import MAX_UIDS, YumaParams, compute_yuma_epoch

MAX_INPUT_BYTES = 4 * 1024 * 1024
REQUEST_KEYS = {"weights", "stake", "bonds", "params"}

YUMA_DESCRIPTION = """\
Run one epoch of Yuma consensus (Bittensor's incentive rule, as in opentensor/subtensor's
epoch) and print its outputs. Input is one JSON object on stdin (at most 4 MiB):

  {"weights": [[...], ...], "stake": [...], "bonds": [[...], ...] | null, "params": {...}}

  weights  n x n non-negative numbers; row i is what uid i sets on every uid. Like the chain,
           each row is stored as u16 scaled so its largest entry is 65535, self-weights (the
           diagonal) are ignored, and rows are normalised to sum 1. Rows of uids without stake
           are ignored: every uid with stake > 0 holds a validator permit.
  stake    n non-negative numbers, any scale (only ratios matter).
  bonds    the previous epoch's bonds (n x n, each in [0, 1], as printed by this command) or
           null for none. Yuma 2: per miner column, scaled so the largest bond is 1 (the chain
           stores u16, 65535 = largest). Yuma 3: absolute fractions of each miner a validator
           holds (u16 / 65535). Bonds of uids without stake are ignored.
  params   optional, defaults are subtensor's:
             kappa                    0.49999 (32767/65535) stake majority behind consensus
             bonds_penalty            1.0  0 = bonds follow raw weights, 1 = clipped weights
             alpha                    0.1  bond EMA rate (1 - BondsMovingAverage/1e6)
             yuma3                    false  use Yuma 3 bonds (fractions, per-bond EMA)
             liquid_alpha             false  Yuma 3 only: per-bond alpha from a sigmoid
             alpha_low, alpha_high    0.7, 0.9  range of the liquid alpha
             alpha_sigmoid_steepness  1000  integer (i16); the sigmoid's slope is this / 100
           kappa, bonds_penalty, alpha_low and alpha_high are rounded to u16/65535, alpha to
           parts per million, as the chain stores them.
"""

YUMA_EPILOG = """\
Output, one JSON object on stdout (floats; the computation itself is I32F32 fixed point):

  consensus        per uid: stake-weighted median weight (kappa majority) it receives
  incentive        per uid: share of the miners' emission (sums to 1, or all 0)
  dividends        per uid: share of the validators' emission (sums to 1, or all 0)
  bonds            n x n: the new bonds, same units as the input bonds, to feed the next epoch
  validator_trust  per uid: the part of its weight row that survives clipping to consensus

Errors exit 1 with `error: <reason>: detail`; reasons: bad-yuma-input (size, JSON, keys),
bad-weights-shape, bad-weights, bad-stake, bad-bonds-shape, bad-bonds, bad-yuma-params.

Example:
  echo '{"weights": [[0,0,1],[0,0,1],[0,0,0]], "stake": [1,1,0], "bonds": null}' \\
    | hashgrad incentive yuma
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser("incentive", help="Yuma consensus (incentive, dividends, bonds)")
    commands = parser.add_subparsers(dest="incentive_command", metavar="ACTION", required=True)
    yuma = commands.add_parser(
        "yuma",
        help="one epoch of Yuma consensus, JSON on stdin",
        description=YUMA_DESCRIPTION,
        epilog=YUMA_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    yuma.set_defaults(func=run_yuma)


def run_yuma(args: argparse.Namespace) -> int:
    request = read_json_request(sys.stdin.buffer)
    weights, stake, bonds, params = parse_yuma_request(request)
    result = compute_yuma_epoch(weights, stake, bonds, params)
    print(json.dumps(compute_float_report(result)))
    return 0


def reject_constant(name: str) -> None:
    raise IncentiveError("bad-yuma-input", f"{name} is not a number")


def read_json_request(stream) -> Any:
    """At most MAX_INPUT_BYTES of UTF-8 JSON (NaN and Infinity refused)."""
    raw = stream.read(MAX_INPUT_BYTES + 1)
    if len(raw) > MAX_INPUT_BYTES:
        raise IncentiveError("bad-yuma-input", f"input exceeds {MAX_INPUT_BYTES} bytes")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise IncentiveError("bad-yuma-input", f"not valid JSON: {exc}") from exc


U16Matrix = list[tuple[int, ...]]


def parse_yuma_request(request: Any) -> tuple[U16Matrix, tuple[int, ...], U16Matrix | None, YumaParams]:
    """Validate the request and convert it to integer units."""
    if not isinstance(request, dict):
        raise IncentiveError("bad-yuma-input", "expected a JSON object")
    unknown = sorted(set(request) - REQUEST_KEYS)
    if unknown or "weights" not in request or "stake" not in request:
        raise IncentiveError("bad-yuma-input", f"needs weights and stake; unknown keys: {unknown}")
    stake = request["stake"]
    if not isinstance(stake, list) or len(stake) > MAX_UIDS:
        raise IncentiveError("bad-stake", f"stake must be a list of at most {MAX_UIDS} numbers")
    if not all(is_finite_non_negative(s) for s in stake):
        raise IncentiveError("bad-stake", "stake must be finite non-negative numbers")
    n = len(stake)
    weights = read_square(request["weights"], n, "weights")
    bonds = request.get("bonds")
    if bonds is not None:
        bonds = read_square(bonds, n, "bonds")
        if any(b > 1 for row in bonds for b in row):
            raise IncentiveError("bad-bonds", "bonds must lie in [0, 1]")
    params = request.get("params") or {}
    if not isinstance(params, dict):
        raise IncentiveError("bad-yuma-params", "params must be an object")
    return (
        [compute_u16_row_from_floats(row) for row in weights],
        compute_stake_units_from_floats(stake),
        [tuple(compute_u16_from_fraction(b) for b in row) for row in bonds] if bonds is not None else None,
        compute_yuma_params_from_floats(params),
    )


def read_square(matrix: Any, n: int, what: str) -> list[list[float]]:
    """An n x n list of finite non-negative numbers, or IncentiveError bad-<what>[-shape]."""
    if not isinstance(matrix, list) or len(matrix) != n:
        raise IncentiveError(f"bad-{what}-shape", f"{what} must have {n} rows (one per stake entry)")
    for i, row in enumerate(matrix):
        if not isinstance(row, list) or len(row) != n:
            raise IncentiveError(f"bad-{what}-shape", f"{what} row {i} must have {n} entries")
        if not all(is_finite_non_negative(v) for v in row):
            raise IncentiveError(f"bad-{what}", f"{what} row {i} must hold finite non-negative numbers")
    return matrix
