#!/usr/bin/env python3
"""Benchmark of reward fidelity: does a miner's pay follow the work it did, as a Bitcoin miner's does?

One in-process network (hashgrad.work.network: the library's miners, validators' scoring, Yuma
consensus with the chain's job parameters, aggregation by incentive), "small" preset:

  miners      2 honest (the 100 % level of every axis), and 2 at each of 25/50/75 % effort along
              each axis of hashgrad.work.graded: inner steps, batch size, data faithfulness (share
              of the assigned pages trained on); 1 cheater (a sandbagger that did half the steps).
  validators  3 honest of equal stake, and 1 weight copier of the same stake (it sets last
              epoch's consensus, all that commit-reveal lets it see).
  audits      as drawn, plus one forced full audit of the cheater by validator 0 at epoch 1.

  spearman_<axis>        rank correlation of effort and the incentive summed over epochs (8 miners)
  caught_cheater_share   the cheater's incentive from its catch on / an honest miner's, same epochs
  honest_gate_pass       share of honest loss tests that pass the own-data gate as applied (every
                         validator, epoch and honest miner, plus `--gate-salts` extra salts per update);
                         honest_strict_gate_pass: the same over the epochs where the strict
                         own-vs-random gate was enforced (strict_gate_tests of them)
  copier_validator_ratio the copier's dividends / an honest validator's, from epoch 1 on
  stake_only_incentive   incentive paid to the validators' uids (stake without work): goal 0

Runs on one thread with deterministic algorithms. Prints progress; the last line is JSON.
    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python bench/bench_fidelity.py [--epochs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace

os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")

from hashgrad.work.data import build_stdlib_dataset  # noqa: E402
from hashgrad.work.graded import AXES, Effort  # noqa: E402
from hashgrad.work.hashing import compute_tagged_hash  # noqa: E402
from hashgrad.work.miner import get_kernel, set_determinism_pins  # noqa: E402
from hashgrad.work.model import Checkpoint, compute_initial_state, compute_num_params  # noqa: E402
from hashgrad.work.network import build_network, make_miner, run_network_epoch  # noqa: E402
from hashgrad.work.params import get_preset  # noqa: E402
from hashgrad.work.scoring import compute_loss_tests, compute_own_gate, is_own_gate_passed  # noqa: E402

LEVELS = (0.25, 0.5, 0.75)
CATCH_EPOCH = 1
HONEST_VALIDATORS = 3
STAKE = 1000 * 10**8


def log(message: str) -> None:
    print(message, flush=True)


def compute_ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def compute_spearman(x: list[float], y: list[float]) -> float:
    """Pearson correlation of the ranks (0 when either side is constant)."""
    rx, ry = compute_ranks(x), compute_ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx, vy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return cov / (vx * vy) ** 0.5 if vx > 0 and vy > 0 else 0.0


def build_miners():
    """(miners, effort by uid per axis, honest uids, cheater uid)."""
    miners = [make_miner(0), make_miner(1)]
    graded = {axis: {0: 1.0, 1: 1.0} for axis in AXES}
    for axis in AXES:
        for level in LEVELS:
            for _ in range(2):
                uid = len(miners)
                miners.append(make_miner(uid, effort=Effort(axis, level)))
                graded[axis][uid] = level
    cheater = len(miners)
    miners.append(make_miner(cheater, kind="sandbagger", sandbag_fraction=0.5))
    return miners, graded, [0, 1], cheater


def compute_report_gate(report, params):
    return compute_own_gate({v.uid: v.loss_test for v in report.verdicts if v.loss_test is not None}, params)


def compute_gate_passes(record, honest: list[int], extra_salts: int, params) -> list[tuple[bool, bool]]:
    """(gate enforced this epoch, passed) for the honest miners' own-data gates: every validator's
    test, plus `extra_salts` more salts (other secret samples) under validator 0's epoch gate."""
    results = []
    for report in record.reports:
        gate = compute_report_gate(report, params)
        results += [
            (gate.enforced, is_own_gate_passed(v.loss_test, gate, params))
            for v in report.verdicts
            if v.uid in honest and v.loss_test is not None
        ]
    inputs, gate = record.inputs, compute_report_gate(record.reports[0], params)
    subs = [s for s in inputs.submissions if s.uid in honest]
    updates = {uid: u for uid, u in record.reports[0].updates.items()}
    for k in range(extra_salts):
        salt = compute_tagged_hash("bench/fidelity/gate-salt", bytes([k]) + inputs.seed)
        tests, _ = compute_loss_tests(replace(inputs, salt=salt, forced_audits=frozenset()), subs, updates)
        results += [(gate.enforced, is_own_gate_passed(t, gate, params)) for t in tests.values()]
    return results


def compute_verdict_dump(record) -> dict:
    """One epoch's verdicts per validator (for re-scoring offline) and the paid incentive."""
    return {
        "incentive": record.incentive,
        "reports": [
            [
                {"uid": v.uid, "reason": v.reason, "score": v.score, "audited": v.audited, "norm": v.norm}
                | ({} if v.loss_test is None else asdict(v.loss_test))
                for v in report.verdicts
            ]
            for report in record.reports
        ],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--gate-salts", type=int, default=8)
    parser.add_argument("--dump", default=None, help="write every validator's verdicts per epoch (JSON) here")
    parser.add_argument("--no-evidence", action="store_true", help="audit records stay with the auditor (as before)")
    args = parser.parse_args(argv)
    set_determinism_pins()
    params = get_preset(args.preset)
    dataset = build_stdlib_dataset(params.page_tokens)
    checkpoint = Checkpoint(params.model, compute_initial_state(params.model, 0))
    miners, graded, honest, cheater = build_miners()
    validators = [(STAKE, False)] * HONEST_VALIDATORS + [(STAKE, True)]
    net = build_network(params, dataset, checkpoint, miners, validators, share_evidence=not args.no_evidence)
    copier = net.validators[-1].uid
    log(
        f"model {compute_num_params(params.model)} params, {len(miners)} miners, {len(validators)} validators, "
        f"kernel {get_kernel()}"
    )
    records, gate, dumped = [], [], []
    started = time.monotonic()
    for epoch in range(args.epochs):
        t0 = time.monotonic()
        forced = {0: frozenset({miners[cheater].hotkey})} if epoch == CATCH_EPOCH else {}
        record = run_network_epoch(net, forced)
        records.append(record)
        dumped.append(compute_verdict_dump(record))
        gate += compute_gate_passes(record, honest, args.gate_salts, params)
        reasons = {uid: r for uid, r in sorted((v.uid, v.reason) for v in record.reports[0].verdicts) if r}
        log(
            f"epoch {epoch}: held-out {record.heldout_loss:.4f} accepted {record.accepted} "
            f"incentive {[round(record.incentive.get(u, 0.0), 3) for u in range(len(miners))]} "
            f"dividends {[round(record.dividends.get(v.uid, 0.0), 3) for v in net.validators]} "
            f"reasons {reasons} evidence {len(record.evidence)} "
            f"own-data gate {compute_report_gate(record.reports[0], params)} "
            f"({time.monotonic() - t0:.1f} s)"
        )

    reward = {uid: sum(r.incentive.get(uid, 0.0) for r in records) for uid in range(len(miners))}
    late = records[CATCH_EPOCH:]
    honest_late = sum(r.incentive.get(uid, 0.0) for r in late for uid in honest) / len(honest)
    cheater_late = sum(r.incentive.get(cheater, 0.0) for r in late)
    later = records[1:]
    honest_dividends = sum(r.dividends.get(v.uid, 0.0) for r in later for v in net.validators if not v.copier)
    honest_dividends /= HONEST_VALIDATORS
    copier_dividends = sum(r.dividends.get(copier, 0.0) for r in later)
    result = {}
    for axis in AXES:
        uids = sorted(graded[axis])
        result[f"spearman_{axis}"] = compute_spearman([graded[axis][u] for u in uids], [reward[u] for u in uids])
    result |= {
        "caught_cheater_share": cheater_late / honest_late if honest_late > 0 else 0.0,
        "honest_gate_pass": sum(p for _, p in gate) / len(gate) if gate else 0.0,
        "honest_gate_tests": len(gate),
        "honest_strict_gate_pass": sum(p for e, p in gate if e) / max(1, sum(e for e, _ in gate)),
        "strict_gate_tests": sum(e for e, _ in gate),
        "copier_validator_ratio": copier_dividends / honest_dividends if honest_dividends > 0 else 0.0,
        "stake_only_incentive": sum(r.incentive.get(v.uid, 0.0) for r in records for v in net.validators),
    }
    for axis in AXES:
        per_level = {}
        for uid, level in graded[axis].items():
            per_level.setdefault(level, []).append(reward[uid] * len(miners) / len(records))
        result[f"reward_{axis}"] = [round(sum(v) / len(v), 3) for _, v in sorted(per_level.items())]
    result |= {
        "loss_final": records[-1].heldout_loss,
        "epochs": args.epochs,
        "preset": args.preset,
        "seconds": time.monotonic() - started,
        "kernel": get_kernel(),
    }
    if args.dump:
        with open(args.dump, "w") as out:
            json.dump({"graded": graded, "cheater": cheater, "epochs": dumped}, out)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
