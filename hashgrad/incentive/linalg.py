"""Vector and matrix operations of Yuma consensus, in I32F32 fixed point (see `fixed.py`).

Each function mirrors the function of the same name in subtensor's `epoch/math.rs` and keeps its
order of rounding: a product is floored on its own before it is summed, and a sum of ints is
exact, so the order of summation never matters. Matrices are lists of rows; a function returns a
new list and never changes its arguments.
"""

from __future__ import annotations

from hashgrad.incentive.fixed import FRAC_BITS, ONE, fx_div, fx_mul

Vector = list[int]
Matrix = list[list[int]]


def compute_normalized(vector: Vector) -> Vector:
    """x / sum(x); a vector summing to zero comes back unchanged (`inplace_normalize`)."""
    total = sum(vector)
    if total == 0:
        return list(vector)
    return [fx_div(value, total) for value in vector]


def compute_row_normalized(matrix: Matrix) -> Matrix:
    """Each row divided by its sum; zero rows stay zero (`inplace_row_normalize`)."""
    return [compute_normalized(row) for row in matrix]


def compute_col_sums(matrix: Matrix, n_cols: int) -> Vector:
    """The sum of every column."""
    return [sum(column) for column in zip(*matrix)] if matrix else [0] * n_cols


def compute_col_normalized(matrix: Matrix, n_cols: int) -> Matrix:
    """Each column divided by its sum; zero columns stay zero (`inplace_col_normalize`)."""
    sums = compute_col_sums(matrix, n_cols)
    return [[fx_div(v, s) if s else v for v, s in zip(row, sums)] for row in matrix]


def compute_col_max_upscaled(matrix: Matrix, n_cols: int) -> Matrix:
    """Each column divided by its maximum, so the largest entry is 1 (`inplace_col_max_upscale`)."""
    maxima = [max(column) for column in zip(*matrix)] if matrix else [0] * n_cols
    return [[fx_div(v, m) if m else v for v, m in zip(row, maxima)] for row in matrix]


def compute_matmul(matrix: Matrix, row_weights: Vector, n_cols: int) -> Vector:
    """result_j = sum_i row_weights_i * matrix_ij (`matmul`: ranks, preranks)."""
    result = [0] * n_cols
    for row, weight in zip(matrix, row_weights):
        if weight == 0:
            continue
        result = [acc + ((weight * value) >> FRAC_BITS) for acc, value in zip(result, row)]  # fx_mul, inlined
    return result


def compute_matmul_transpose(matrix: Matrix, col_weights: Vector) -> Vector:
    """result_i = sum_j matrix_ij * col_weights_j (`matmul_transpose`: Yuma 2 dividends)."""
    return [sum(fx_mul(value, weight) for value, weight in zip(row, col_weights)) for row in matrix]


def compute_row_hadamard(matrix: Matrix, row_weights: Vector) -> Matrix:
    """matrix_ij * row_weights_i (`row_hadamard`: the Yuma 2 bond delta W o S)."""
    return [[fx_mul(value, weight) for value in row] for row, weight in zip(matrix, row_weights)]


def compute_col_clipped(matrix: Matrix, thresholds: Vector) -> Matrix:
    """min(matrix_ij, thresholds_j) (`inplace_col_clip`: clip weights to consensus)."""
    return [[v if v < t else t for v, t in zip(row, thresholds)] for row in matrix]


def compute_interpolated(low: Matrix, high: Matrix, ratio: int) -> Matrix:
    """low + ratio * (high - low), with the exact ends at ratio 0 and 1 (`interpolate`)."""
    if ratio == 0:
        return [list(row) for row in low]
    if ratio == ONE:
        return [list(row) for row in high]
    return [[a + fx_mul(ratio, b - a) for a, b in zip(row_a, row_b)] for row_a, row_b in zip(low, high)]
