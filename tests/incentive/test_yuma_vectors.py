"""Every case of tests/data/yuma-cases.json (transcribed from opentensor/subtensor) against hashgrad.incentive.

One test per case, parametrized over the file; a case id without a checker fails, so a case added to
the file cannot be skipped silently. Tolerances are the ones each case states.
"""

from __future__ import annotations

import pytest

from data_files import read_json
from hashgrad.incentive.bonds import compute_alpha_sigmoid, compute_ema_alpha
from hashgrad.incentive.convert import (
    compute_float_report,
    compute_stake_units_from_floats,
    compute_u16_from_fraction,
    compute_u16_row_from_floats,
    fx_from_float,
)
from hashgrad.incentive.emission import compute_emission_split
from hashgrad.incentive.fixed import fx_to_float
from hashgrad.incentive.median import compute_weighted_median_col
from hashgrad.incentive.yuma import PPM, YumaParams, YumaResult, compute_yuma_epoch

CASES = read_json("yuma-cases.json")["cases"]
RAO_PER_EPOCH = 10**9
# Slack on top of a case's tolerance for the float rounding of values transcribed at the edge of
# it (test_math_mat_ema_alpha lists 0.6539 for an exact 0.654 with tolerance 1e-4).
FLOAT_SLACK = 1e-9


def assert_close(actual, expected, tolerance, what):
    assert len(actual) == len(expected), what
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert abs(a - e) <= tolerance + FLOAT_SLACK, f"{what}[{index}]: {a} vs {e} (tolerance {tolerance})"


def params_from_case(p: dict) -> YumaParams:
    return YumaParams(
        kappa_u16=p["kappa_u16"],
        bonds_penalty_u16=p["bonds_penalty_u16"],
        bond_alpha_ppm=PPM - p["bonds_moving_average"],
        yuma3=p.get("yuma3", False),
        liquid_alpha=p.get("liquid_alpha", False),
        alpha_low_u16=compute_u16_from_fraction(p.get("alpha_low", 0.7)),
        alpha_high_u16=compute_u16_from_fraction(p.get("alpha_high", 0.9)),
        alpha_sigmoid_steepness=p.get("alpha_sigmoid_steepness", 1000),
    )


def replay_epochs(case: dict):
    """The Rust test harness: one permit epoch without weights, then set weights and run an epoch
    per step, feeding each epoch's stored bonds into the next. Yields (step, YumaResult)."""
    n = case["params"]["n"]
    params = params_from_case(case["params"])
    stake = case["inputs"]["stake_raw"]
    weights = [[0] * n for _ in range(n)]
    bonds = compute_yuma_epoch(weights, stake, None, params).bonds
    for step in case.get("steps") or case["epochs"]:
        if isinstance(step["set_weights"], dict):  # otherwise "unchanged (keep previous weights)"
            for uid, setting in step["set_weights"].items():
                row = [0] * n
                for target, value in zip(setting["uids"], setting["values"]):
                    row[target] = value
                weights[int(uid)] = list(compute_u16_row_from_floats(row))  # set_weights max-upscales
        result = compute_yuma_epoch(weights, stake, bonds, params)
        bonds = result.bonds
        yield step, result


def epoch_emission(result: YumaResult, stake) -> list[int]:
    split = compute_emission_split(RAO_PER_EPOCH, result.incentive, result.dividends, stake)
    assert sum(split.miner_emission) + sum(split.validator_emission) + split.unpaid == RAO_PER_EPOCH
    return [m + v for m, v in zip(split.miner_emission, split.validator_emission)]


def check_unit_weighted_median_col(case):
    for sub in case["subcases"]:
        stake = [fx_from_float(s) for s in sub["stake"]]
        scores = [[fx_from_float(w) for w in row] for row in sub["weights_rows_validators"]]
        n_cols = len(sub["expected_consensus"])
        consensus = compute_weighted_median_col(stake, scores, fx_from_float(sub["kappa"]), n_cols)
        assert consensus == [fx_from_float(c) for c in sub["expected_consensus"]], sub  # a median is an input score


def check_unit_mat_ema_alpha(case):
    inputs, expected = case["inputs"], case["expected"]
    old = [[fx_from_float(v) for v in row] for row in inputs["old_bonds"]]
    new = [[fx_from_float(v) for v in row] for row in inputs["new_weights"]]
    alphas = [[fx_from_float(inputs["alpha_all_entries"])] * len(row) for row in new]
    for row, want in zip(compute_ema_alpha(new, old, alphas), expected["ema"]):
        assert_close([fx_to_float(v) for v in row], want, expected["tolerance"], "ema")


def check_unit_alpha_sigmoid(case):
    for sub in case["subcases"]:
        alpha = compute_alpha_sigmoid(
            fx_from_float(sub["consensus"]),
            fx_from_float(sub["weight"]),
            fx_from_float(sub["bond"]),
            fx_from_float(sub["alpha_low"]),
            fx_from_float(sub["alpha_high"]),
            sub["steepness_i16"],
        )
        assert abs(fx_to_float(alpha) - sub["expected_alpha"]) <= 1e-6, sub  # expected has 6 decimals


def check_yuma2_test_bonds_8uid(case):
    stake = case["inputs"]["stake_raw"]
    for step, result in replay_epochs(case):
        key = next(k for k in step if k.startswith("expected_bonds_u16_col"))
        column = int(key.removeprefix("expected_bonds_u16_col"))
        # The file allows +-1 (a float port gets 49151 for 49150); our I32F32 port matches Rust exactly.
        assert [result.bonds[v][column] for v in range(4)] == step[key], step["step"]
        trace = step.get("expected_from_rust_trace", {})
        report = compute_float_report(result)
        if "consensus_4to7" in trace:
            assert_close(report["consensus"][4:], trace["consensus_4to7"], 1e-9, "consensus")
            assert_close(report["incentive"][4:], trace["incentive_4to7"], 1e-9, "incentive")
        if "dividends_0to3" in trace:
            assert_close(report["dividends"][:4], trace["dividends_0to3"], 1e-9, "dividends")
        if "consensus_7" in trace:
            assert abs(report["consensus"][7] - trace["consensus_7"]) <= 1e-9
            assert report["incentive"][7] == trace["incentive_7"]
        if trace.get("consensus", "").startswith("all 0"):
            assert not any(result.consensus) and not any(result.incentive) and not any(result.dividends)
        if "emission_rao" in trace:  # Rust floors each share; we hand out the remainder: +-1 rao
            assert_close(epoch_emission(result, stake), trace["emission_rao"], 1, "emission")


def check_yuma3_scenario(case):
    tolerance = case["tolerance"]
    validators, miners = case["params"]["validators"], case["params"]["miners"]
    for step, result in replay_epochs(case):
        report = compute_float_report(result)
        label = f"epoch {step['epoch']}"
        assert_close(report["dividends"], step["expected_dividends"], tolerance, f"{label} dividends")
        for v, want in zip(validators, step["expected_bonds_validators_x_miners"]):
            assert_close([report["bonds"][v][m] for m in miners], want, tolerance, f"{label} bonds row {v}")
        assert_close(report["incentive"], step["port_incentive"], tolerance, f"{label} incentive")
        assert_close(
            [report["consensus"][m] for m in miners], step["port_consensus_miners"], tolerance, f"{label} consensus"
        )


def check_yuma2_single_epoch_outlier_clipping(case):
    expected, tolerance, p = case["expected"], case["tolerance"], case["params"]
    stake = compute_stake_units_from_floats(case["inputs"]["stake_normalized"])
    n = len(stake)
    weights = [[0] * n for _ in range(n)]
    for uid, row in enumerate(case["inputs"]["weights_normalized_rows_0to2_cols_3to5"]):
        weights[uid] = list(compute_u16_row_from_floats([0.0, 0.0, 0.0] + row))
    params = YumaParams(
        kappa_u16=compute_u16_from_fraction(p["kappa"]),
        bonds_penalty_u16=compute_u16_from_fraction(p["bonds_penalty"]),
        bond_alpha_ppm=round(p["bond_alpha"] * PPM),
        yuma3=p["yuma3"],
    )
    result = compute_yuma_epoch(weights, stake, None, params)
    report = compute_float_report(result)
    assert_close(report["consensus"][3:], expected["consensus_miners"], tolerance, "consensus")
    assert_close(report["validator_trust"][:3], expected["validator_trust"], tolerance, "validator trust")
    assert_close(report["validator_trust"][:3], [sum(r) for r in expected["clipped_rows"]], tolerance, "clipped rows")
    assert_close([fx_to_float(r) for r in result.ranks[3:]], expected["rank_miners"], tolerance, "ranks")
    assert_close(report["incentive"][3:], expected["incentive_miners"], tolerance, "incentive")
    assert_close(report["dividends"][:3], expected["dividends_validators"], tolerance, "dividends")
    split = compute_emission_split(RAO_PER_EPOCH, result.incentive, result.dividends, stake)
    assert_close(split.miner_emission, expected["server_emission_rao"], 1, "server emission")
    assert_close(split.validator_emission, expected["validator_emission_rao"], 1, "validator emission")


# Subtensor's block emission (issuance-based halving, the owner's cut of alpha): hashgrad's block
# subsidy is the chain's own rule (chain/subsidy.py, Bitcoin's height halving), so these cases test
# nothing hashgrad runs.
NOT_HASHGRAD_RULES = {"block_emission_halving", "alpha_emission_split"}

CHECKERS = {
    "unit_weighted_median_col": check_unit_weighted_median_col,
    "unit_mat_ema_alpha": check_unit_mat_ema_alpha,
    "unit_alpha_sigmoid": check_unit_alpha_sigmoid,
    "yuma2_test_bonds_8uid": check_yuma2_test_bonds_8uid,
    "yuma2_single_epoch_outlier_clipping": check_yuma2_single_epoch_outlier_clipping,
}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_yuma_vector_case(case):
    if case["id"] in NOT_HASHGRAD_RULES:
        pytest.skip("subtensor's block emission: hashgrad's subsidy rule is chain/subsidy.py")
    checker = CHECKERS.get(case["id"])
    if checker is None and case["id"].startswith("yuma3_"):
        checker = check_yuma3_scenario
    assert checker is not None, f"no checker for vector case {case['id']}"
    checker(case)


def test_vector_file_has_every_known_case():
    ids = {c["id"] for c in CASES}
    assert set(CHECKERS) <= ids
    assert sum(1 for i in ids if i.startswith("yuma3_")) == 6
