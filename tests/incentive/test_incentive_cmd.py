"""`python -m hashgrad incentive yuma` in a subprocess: good requests, a multi-epoch run, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from data_files import read_json

REPO = Path(__file__).resolve().parents[2]


def run_yuma(stdin: bytes | str, *args: str) -> subprocess.CompletedProcess:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run(
        [sys.executable, "-m", "hashgrad", "incentive", "yuma", *args],
        input=data,
        capture_output=True,
        cwd=REPO,
        timeout=60,
    )


def run_ok(request: dict) -> dict:
    done = run_yuma(json.dumps(request))
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def load_case(case_id: str) -> dict:
    return next(c for c in read_json("yuma-cases.json")["cases"] if c["id"] == case_id)


def test_cli_yuma_small_epoch():
    out = run_ok({"weights": [[0, 0, 1], [0, 0, 1], [0, 0, 0]], "stake": [1, 3, 0], "bonds": None})
    assert out["consensus"] == [0.0, 0.0, 1.0]
    assert out["incentive"] == [0.0, 0.0, 1.0]
    assert out["dividends"] == pytest.approx([0.25, 0.75, 0.0], abs=1e-8)  # I32F32 floors each step
    assert out["validator_trust"] == [1.0, 1.0, 0.0]
    # Yuma 2 bonds: column max = 1, uid 0 holds a third of uid 1's bond (u16, floored: +-1).
    assert out["bonds"][1:] == [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    assert out["bonds"][0][:2] == [0.0, 0.0] and abs(out["bonds"][0][2] * 65535 - 65535 / 3) <= 1


def test_cli_yuma_outlier_clipping_vector():
    case = load_case("yuma2_single_epoch_outlier_clipping")
    stake = case["inputs"]["stake_normalized"]
    weights = [[0.0] * 6 for _ in range(6)]
    for uid, row in enumerate(case["inputs"]["weights_normalized_rows_0to2_cols_3to5"]):
        weights[uid] = [0.0, 0.0, 0.0] + row
    p = case["params"]
    out = run_ok(
        {
            "weights": weights,
            "stake": stake,
            "bonds": None,
            "params": {
                "kappa": p["kappa"],
                "bonds_penalty": p["bonds_penalty"],
                "alpha": p["bond_alpha"],
                "yuma3": p["yuma3"],
            },
        }
    )
    want, tolerance = case["expected"], case["tolerance"]
    for got, expected in [
        (out["consensus"][3:], want["consensus_miners"]),
        (out["incentive"][3:], want["incentive_miners"]),
        (out["dividends"][:3], want["dividends_validators"]),
        (out["validator_trust"][:3], want["validator_trust"]),
    ]:
        assert all(abs(a - b) <= tolerance for a, b in zip(got, expected)), (got, expected)


def test_cli_yuma3_liquid_alpha_epochs_feed_bonds_back():
    case = load_case("yuma3_kappa_moves_first")
    p, n = case["params"], case["params"]["n"]
    params = {
        "kappa": p["kappa_u16"] / 65535,
        "bonds_penalty": 0.0,
        "alpha": 1 - p["bonds_moving_average"] / 1e6,
        "yuma3": True,
        "liquid_alpha": True,
        "alpha_low": p["alpha_low"],
        "alpha_high": p["alpha_high"],
        "alpha_sigmoid_steepness": p["alpha_sigmoid_steepness"],
    }
    weights, bonds = [[0.0] * n for _ in range(n)], None
    for epoch in case["epochs"]:
        if isinstance(epoch["set_weights"], dict):
            for uid, setting in epoch["set_weights"].items():
                weights[int(uid)] = [0.0] * n
                for target, value in zip(setting["uids"], setting["values"]):
                    weights[int(uid)][target] = float(value)
        out = run_ok({"weights": weights, "stake": case["inputs"]["stake_raw"], "bonds": bonds, "params": params})
        assert all(abs(a - b) <= case["tolerance"] for a, b in zip(out["dividends"], epoch["expected_dividends"])), (
            epoch["epoch"]
        )
        bonds = out["bonds"]
    assert abs(bonds[0][4] - case["epochs"][-1]["expected_bonds_validators_x_miners"][0][1]) <= case["tolerance"]


def test_cli_yuma_help_documents_units():
    done = run_yuma("", "--help")
    text = done.stdout.decode()
    assert done.returncode == 0
    for phrase in ("65535", "Yuma 3", "alpha_sigmoid_steepness", "bad-weights-shape", "4 MiB"):
        assert phrase in text


square = [[0, 1], [1, 0]]


@pytest.mark.parametrize(
    "stdin, reason",
    [
        ("not json", "bad-yuma-input"),
        (b"\xff\xfe", "bad-yuma-input"),
        (b" " * (4 * 1024 * 1024 + 1), "bad-yuma-input"),
        ("[1, 2]", "bad-yuma-input"),
        (json.dumps({"weights": square}), "bad-yuma-input"),
        (json.dumps({"weights": square, "stake": [1, 1], "extra": 1}), "bad-yuma-input"),
        ('{"weights": [[0, NaN], [1, 0]], "stake": [1, 1]}', "bad-yuma-input"),
        (json.dumps({"weights": [[0, 1, 0], [1, 0, 0]], "stake": [1, 1]}), "bad-weights-shape"),
        (json.dumps({"weights": [[0, 1], [1]], "stake": [1, 1]}), "bad-weights-shape"),
        (json.dumps({"weights": [[0, -1], [1, 0]], "stake": [1, 1]}), "bad-weights"),
        (json.dumps({"weights": [[0, "1"], [1, 0]], "stake": [1, 1]}), "bad-weights"),
        (json.dumps({"weights": square, "stake": [1, -2]}), "bad-stake"),
        ('{"weights": [[0, 1], [1, 0]], "stake": [1, 1e400]}', "bad-stake"),
        (json.dumps({"weights": square, "stake": "11"}), "bad-stake"),
        (json.dumps({"weights": square, "stake": [1, 1], "bonds": [[0, 1.5], [0, 0]]}), "bad-bonds"),
        (json.dumps({"weights": square, "stake": [1, 1], "bonds": [[0, 1]]}), "bad-bonds-shape"),
        (json.dumps({"weights": square, "stake": [1, 1], "params": {"kappa": 2}}), "bad-yuma-params"),
        (json.dumps({"weights": square, "stake": [1, 1], "params": {"kapa": 0.5}}), "bad-yuma-params"),
        (json.dumps({"weights": square, "stake": [1, 1], "params": {"yuma3": 1}}), "bad-yuma-params"),
        (
            json.dumps({"weights": square, "stake": [1, 1], "params": {"alpha_low": 0.9, "alpha_high": 0.1}}),
            "bad-yuma-params",
        ),
        (
            json.dumps({"weights": square, "stake": [1, 1], "params": {"alpha_sigmoid_steepness": 2.5}}),
            "bad-yuma-params",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and value.startswith("bad-") else None,
)
def test_cli_yuma_rejects_bad_input(stdin, reason):
    done = run_yuma(stdin)
    assert done.returncode == 1
    assert done.stderr.decode().startswith(f"error: {reason}:"), done.stderr.decode()
    assert done.stdout == b""
