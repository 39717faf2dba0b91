"""Validator bonds: how each validator's stake in each miner moves from epoch to epoch.

Two rules, both from subtensor's `run_epoch.rs`, in I32F32 fixed point:

* Yuma 2 (original): the bond delta is the (penalised) weights times stake, column-normalised;
  the new bonds are an EMA `alpha*delta + (1-alpha)*old` of column-normalised old bonds, again
  column-normalised. Dividends use these; storage scales each column so its maximum is 65535.
* Yuma 3: bonds are absolute fractions in [0, 1] (u16 / 65535). Each entry moves by its own EMA
  `min(1, (1-a)*B + min(a*W, 1-(1-a)*B))`, where a is fixed or, with liquid alpha, a sigmoid of
  how far the validator's weight sits from consensus (`alpha_sigmoid`): weights that run ahead of
  consensus buy in fast, weights that agree buy in slowly.
"""

from __future__ import annotations

from hashgrad.incentive.fixed import HALF, ONE, fx_clamp, fx_div, fx_exp, fx_from_int, fx_mul
from hashgrad.incentive.linalg import (
    Matrix,
    Vector,
    compute_col_normalized,
    compute_row_hadamard,
)


def compute_ema(new: Matrix, old: Matrix, alpha: int) -> Matrix:
    """alpha * new + (1 - alpha) * old, entry by entry (`mat_ema`)."""
    keep = ONE - alpha
    return [
        [fx_mul(alpha, n) + fx_mul(keep, o) for n, o in zip(new_row, old_row)] for new_row, old_row in zip(new, old)
    ]


def compute_capped_ema_entry(new: int, old: int, alpha: int) -> int:
    """One Yuma 3 bond: decay the old bond, buy at most alpha*new, never above 1 (`mat_ema_alpha`)."""
    decayed = fx_mul(ONE - alpha, old)
    capacity = max(ONE - decayed, 0)
    purchase = min(max(fx_mul(alpha, new), 0), capacity)
    return min(decayed + purchase, ONE)


def compute_ema_alpha(new: Matrix, old: Matrix, alphas: Matrix) -> Matrix:
    """The capped Yuma 3 EMA with a per-entry alpha."""
    return [
        [compute_capped_ema_entry(n, o, a) for n, o, a in zip(new_row, old_row, alpha_row)]
        for new_row, old_row, alpha_row in zip(new, old, alphas)
    ]


def compute_alpha_sigmoid(consensus: int, weight: int, bond: int, low: int, high: int, steepness: int) -> int:
    """Liquid alpha for one bond: low + (high-low) * sigmoid(steepness/100 * (diff - 1/2)).

    diff is how far the weight runs ahead of consensus when buying (weight >= bond), or how far
    it has fallen below the bond when selling; `steepness` is the i16 chain parameter.
    """
    if weight >= bond:
        diff = fx_clamp(weight - consensus, 0, ONE)
    else:
        diff = fx_clamp(bond - weight, 0, ONE)
    slope = fx_div(fx_from_int(steepness), fx_from_int(-100))
    sigmoid = fx_div(ONE, ONE + fx_exp(fx_mul(slope, diff - HALF)))
    return fx_clamp(low + fx_mul(sigmoid, high - low), low, high)


def compute_liquid_alphas(
    weights: Matrix, bonds: Matrix, consensus: Vector, low: int, high: int, steepness: int
) -> Matrix:
    """Per-entry liquid alpha (`compute_liquid_alpha_values`), memoised on the three inputs."""
    cache: dict[tuple[int, int, int], int] = {}
    alphas: Matrix = []
    for w_row, b_row in zip(weights, bonds):
        row = []
        for w, b, c in zip(w_row, b_row, consensus):
            key = (c, w, b)
            alpha = cache.get(key)
            if alpha is None:
                alpha = cache[key] = compute_alpha_sigmoid(c, w, b, low, high, steepness)
            row.append(alpha)
        alphas.append(row)
    return alphas


def compute_yuma2_bonds(
    weights_for_bonds: Matrix, active_stake: Vector, old_bonds: Matrix, alpha: int, n_cols: int
) -> Matrix:
    """Yuma 2 bonds, column-normalised (sum over validators = 1 per miner that has any)."""
    delta = compute_col_normalized(compute_row_hadamard(weights_for_bonds, active_stake), n_cols)
    previous = compute_col_normalized(old_bonds, n_cols)
    return compute_col_normalized(compute_ema(delta, previous, alpha), n_cols)


def compute_yuma3_bonds(
    weights_for_bonds: Matrix,
    old_bonds: Matrix,
    consensus: Vector,
    fixed_alpha: int,
    liquid: tuple[int, int, int] | None,
) -> Matrix:
    """Yuma 3 bonds as fractions in [0, 1] (`compute_bonds`).

    `liquid` is (alpha_low, alpha_high, steepness) when liquid alpha is on; as in subtensor it
    only applies when some consensus is non-zero, otherwise the fixed alpha is used.
    """
    if liquid is not None and any(consensus):
        low, high, steepness = liquid
        alphas = compute_liquid_alphas(weights_for_bonds, old_bonds, consensus, low, high, steepness)
    else:
        alphas = [[fixed_alpha] * len(row) for row in weights_for_bonds]
    return compute_ema_alpha(weights_for_bonds, old_bonds, alphas)
