"""One epoch of Yuma consensus: (weights, stake, previous bonds) -> consensus, incentive, dividends, bonds.

This is the rule that block connect runs at the end of every epoch, so it is integer-only and
bit-identical everywhere. It follows subtensor's `epoch_dense` (run_epoch.rs at
opentensor/subtensor@14bc6f9f) step by step, in I32F32 fixed point (`fixed.py` documents the
rounding of every operation):

 1. stake_i  = floor(2**32 * s_i / sum(s)); the active stake keeps permitted validators only and
    is normalised again (`inplace_normalize`).
 2. W        = u16 weights of permitted validators, self-weight (diagonal) removed, rows normalised.
 3. C_j      = stake-weighted median of column j at majority kappa (`median.py`).
 4. W~       = min(W_ij, C_j); validator trust = row sums of W~.
 5. rank_j   = sum_i S_i W~_ij; incentive = rank / sum(rank); trust_j = rank_j / prerank_j.
 6. W_b      = W + bonds_penalty * (W~ - W): the weights the bonds follow.
 7. bonds and dividends (`bonds.py`):
      Yuma 2: B = colnorm(alpha * colnorm(W_b o S) + (1-alpha) * colnorm(B_old));
              dividends = normalise(B . incentive); stored bonds are B column-max-upscaled to u16.
      Yuma 3: B = capped EMA of W_b toward B_old (fractions, per-entry liquid alpha optional);
              dividends = normalise(S_i * (colnorm(B) . incentive)_i); stored as floor(65535*B).

Inputs are plain ints: weights as stored on chain (u16, any row scale), stake in base units,
bonds as stored u16 (Yuma 2: column-max-upscaled; Yuma 3: fraction*65535). Differences from the
pallet: no activity cut-off, registration age or top-k permits here (the caller masks those
through `validator_permits`, whose default is "every uid with stake"), and a uid without a permit
holds no bonds (its old bond row is ignored and its new one is zero), so it earns no dividends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hashgrad.errors import IncentiveError
from hashgrad.incentive.bonds import compute_yuma2_bonds, compute_yuma3_bonds
from hashgrad.incentive.fixed import (
    ONE,
    U16_MAX,
    fx_div,
    fx_from_int,
    fx_from_u16_proportion,
    fx_mul,
    fx_ratio,
    fx_to_u16_floor,
)
from hashgrad.incentive.linalg import (
    Matrix,
    compute_col_clipped,
    compute_col_max_upscaled,
    compute_col_normalized,
    compute_interpolated,
    compute_matmul,
    compute_matmul_transpose,
    compute_normalized,
    compute_row_normalized,
)
from hashgrad.incentive.median import compute_weighted_median_col

MAX_UIDS = 4096
PPM = 1_000_000
I16_MIN, I16_MAX = -32768, 32767


@dataclass(frozen=True)
class YumaParams:
    """Per-job Yuma parameters, in subtensor's integer units (its defaults)."""

    kappa_u16: int = 32767  # majority for consensus: kappa = kappa_u16 / 65535 (about 0.5)
    bonds_penalty_u16: int = U16_MAX  # 1.0: bonds follow clipped weights; 0: raw weights
    bond_alpha_ppm: int = 100_000  # EMA rate alpha = 0.1 (subtensor: 1 - BondsMovingAverage/1e6)
    yuma3: bool = False
    liquid_alpha: bool = False  # Yuma 3 only: per-bond alpha in [alpha_low, alpha_high]
    alpha_low_u16: int = 45875  # 0.7
    alpha_high_u16: int = 58982  # 0.9
    alpha_sigmoid_steepness: int = 1000  # i16; the sigmoid's slope is steepness / 100


@dataclass(frozen=True)
class YumaResult:
    """Outputs of one epoch. Vectors are I32F32 ints (value * 2**32); bonds are stored u16."""

    consensus: tuple[int, ...]
    incentive: tuple[int, ...]
    dividends: tuple[int, ...]
    validator_trust: tuple[int, ...]
    ranks: tuple[int, ...]
    trust: tuple[int, ...]
    bonds: tuple[tuple[int, ...], ...]
    validator_permits: tuple[bool, ...]


def is_u16(value: object) -> bool:
    """True for a plain int in [0, 65535] (bools are not weights)."""
    return type(value) is int and 0 <= value <= U16_MAX


def check_yuma_params(params: YumaParams) -> None:
    """Raise IncentiveError('bad-yuma-params') unless every parameter is in its range."""
    if not (is_u16(params.kappa_u16) and is_u16(params.bonds_penalty_u16)):
        raise IncentiveError("bad-yuma-params", "kappa and bonds_penalty must be u16")
    if not (type(params.bond_alpha_ppm) is int and 0 <= params.bond_alpha_ppm <= PPM):
        raise IncentiveError("bad-yuma-params", "bond_alpha_ppm must be in [0, 1e6]")
    if not (is_u16(params.alpha_low_u16) and is_u16(params.alpha_high_u16)):
        raise IncentiveError("bad-yuma-params", "alpha_low and alpha_high must be u16")
    if params.alpha_low_u16 > params.alpha_high_u16:
        raise IncentiveError("bad-yuma-params", "alpha_low must not exceed alpha_high")
    steepness = params.alpha_sigmoid_steepness
    if not (type(steepness) is int and I16_MIN <= steepness <= I16_MAX):
        raise IncentiveError("bad-yuma-params", "alpha_sigmoid_steepness must be an i16")
    if type(params.yuma3) is not bool or type(params.liquid_alpha) is not bool:
        raise IncentiveError("bad-yuma-params", "yuma3 and liquid_alpha must be booleans")


def check_square_u16(matrix: Sequence[Sequence[int]], n: int, what: str) -> None:
    """Raise IncentiveError('bad-<what>-shape' / 'bad-<what>') unless `matrix` is n x n of u16."""
    if not isinstance(matrix, (tuple, list)) or len(matrix) != n:
        raise IncentiveError(f"bad-{what}-shape", f"expected {n} rows")
    for i, row in enumerate(matrix):
        if not isinstance(row, (tuple, list)) or len(row) != n:
            raise IncentiveError(f"bad-{what}-shape", f"row {i} must have {n} entries")
        if not all(type(v) is int and 0 <= v <= U16_MAX for v in row):
            raise IncentiveError(f"bad-{what}", f"row {i} holds a value that is not a u16")


def check_yuma_inputs(
    weights: Sequence[Sequence[int]],
    stake: Sequence[int],
    bonds: Sequence[Sequence[int]] | None,
    params: YumaParams,
    validator_permits: Sequence[bool] | None,
) -> int:
    """Validate the epoch inputs and return n, raising IncentiveError with a reason code."""
    if not isinstance(stake, (tuple, list)):
        raise IncentiveError("bad-stake", "stake must be a sequence")
    n = len(stake)
    if n > MAX_UIDS:
        raise IncentiveError("bad-stake", f"{n} uids exceed the limit of {MAX_UIDS}")
    if not all(type(s) is int and s >= 0 for s in stake):
        raise IncentiveError("bad-stake", "stake must be non-negative integers")
    check_square_u16(weights, n, "weights")
    if bonds is not None:
        check_square_u16(bonds, n, "bonds")
    if validator_permits is not None:
        if len(validator_permits) != n or not all(type(p) is bool for p in validator_permits):
            raise IncentiveError("bad-validator-permits", f"expected {n} booleans")
    check_yuma_params(params)
    return n


def compute_stake_weights(stake: Sequence[int]) -> list[int]:
    """Stake as I32F32 fractions of the total, floored (subtensor normalises in I64F64 first)."""
    total = sum(stake)
    return [fx_ratio(s, total) for s in stake] if total else [0] * len(stake)


def compute_bond_alpha(bond_alpha_ppm: int) -> int:
    """alpha = 1 - BondsMovingAverage/1e6 in I32F32, as `compute_disabled_liquid_alpha` rounds it."""
    return ONE - fx_ratio(PPM - bond_alpha_ppm, PPM)


def compute_validator_weights(weights: Sequence[Sequence[int]], validators: list[int]) -> Matrix:
    """Rows of the permitted validators as fixed point, self-weight removed, rows normalised."""
    rows = []
    for uid in validators:
        row = [fx_from_int(w) for w in weights[uid]]
        row[uid] = 0
        rows.append(row)
    return compute_row_normalized(rows)


@dataclass(frozen=True)
class BondInputs:
    """What the bond step of an epoch reads; matrices hold the permitted validators' rows only."""

    weights: Matrix  # W_b: the weights the bonds follow (raw, clipped or in between)
    old_bonds: Matrix  # stored u16 bonds of the previous epoch
    consensus: list[int]
    incentive: list[int]
    active_stake: list[int]
    n: int


def compute_yuma_epoch(
    weights: Sequence[Sequence[int]],
    stake: Sequence[int],
    bonds: Sequence[Sequence[int]] | None,
    params: YumaParams,
    validator_permits: Sequence[bool] | None = None,
) -> YumaResult:
    """Run one epoch of Yuma consensus (see the module docstring for the formulas)."""
    n = check_yuma_inputs(weights, stake, bonds, params, validator_permits)
    permits = tuple(validator_permits) if validator_permits is not None else tuple(s > 0 for s in stake)
    validators = [uid for uid in range(n) if permits[uid]]
    stake_fx = compute_stake_weights(stake)
    active_stake = compute_normalized([stake_fx[uid] for uid in validators])

    w = compute_validator_weights(weights, validators)
    preranks = compute_matmul(w, active_stake, n)
    consensus = compute_weighted_median_col(active_stake, w, fx_from_u16_proportion(params.kappa_u16), n)
    clipped = compute_col_clipped(w, consensus)
    ranks = compute_matmul(clipped, active_stake, n)
    incentive = compute_normalized(ranks)

    penalty = fx_from_u16_proportion(params.bonds_penalty_u16)
    old_rows = [list(bonds[uid]) if bonds is not None else [0] * n for uid in validators]
    weights_for_bonds = compute_interpolated(w, clipped, penalty)
    inputs = BondInputs(weights_for_bonds, old_rows, consensus, incentive, active_stake, n)
    step = compute_yuma3_step if params.yuma3 else compute_yuma2_step
    stored_rows, dividends = step(inputs, params)

    return YumaResult(
        consensus=tuple(consensus),
        incentive=tuple(incentive),
        dividends=tuple(scatter(dividends, validators, n)),
        validator_trust=tuple(scatter([sum(row) for row in clipped], validators, n)),
        ranks=tuple(ranks),
        trust=tuple(fx_div(r, p) if p else 0 for r, p in zip(ranks, preranks)),
        bonds=scatter_rows(stored_rows, validators, n),
        validator_permits=permits,
    )


def compute_yuma2_step(inputs: BondInputs, params: YumaParams) -> tuple[Matrix, list[int]]:
    """Yuma 2 bonds (stored column-max-upscaled as u16) and the validators' dividends."""
    old = [[fx_from_int(b) for b in row] for row in inputs.old_bonds]
    alpha = compute_bond_alpha(params.bond_alpha_ppm)
    ema = compute_yuma2_bonds(inputs.weights, inputs.active_stake, old, alpha, inputs.n)
    dividends = compute_normalized(compute_matmul_transpose(ema, inputs.incentive))
    stored = [[fx_to_u16_floor(v) for v in row] for row in compute_col_max_upscaled(ema, inputs.n)]
    return stored, dividends


def compute_yuma3_step(inputs: BondInputs, params: YumaParams) -> tuple[Matrix, list[int]]:
    """Yuma 3 bonds (stored as floor(65535 * fraction)) and the validators' dividends."""
    old = [[fx_from_u16_proportion(b) for b in row] for row in inputs.old_bonds]
    liquid = None
    if params.liquid_alpha:
        liquid = (
            fx_from_u16_proportion(params.alpha_low_u16),
            fx_from_u16_proportion(params.alpha_high_u16),
            params.alpha_sigmoid_steepness,
        )
    alpha = compute_bond_alpha(params.bond_alpha_ppm)
    ema = compute_yuma3_bonds(inputs.weights, old, inputs.consensus, alpha, liquid)
    per_validator = compute_matmul_transpose(compute_col_normalized(ema, inputs.n), inputs.incentive)
    dividends = compute_normalized([fx_mul(b, s) for b, s in zip(per_validator, inputs.active_stake)])
    stored = [[fx_to_u16_floor(v) for v in row] for row in ema]
    return stored, dividends


def scatter(values: list[int], uids: list[int], n: int) -> list[int]:
    """A length-n vector holding `values` at `uids` and 0 elsewhere."""
    full = [0] * n
    for uid, value in zip(uids, values):
        full[uid] = value
    return full


def scatter_rows(rows: Matrix, uids: list[int], n: int) -> tuple[tuple[int, ...], ...]:
    """An n x n matrix holding `rows` at `uids` and zero rows elsewhere."""
    zero = (0,) * n
    full = [zero] * n
    for uid, row in zip(uids, rows):
        full[uid] = tuple(row)
    return tuple(full)
