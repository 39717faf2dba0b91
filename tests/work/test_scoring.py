"""Validator scoring: stages, reason codes, weights and purity (hashgrad.work.scoring)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from hashgrad.work.adversaries import MinerContext, compute_output
from hashgrad.work.compress import compute_layout, decompress
from hashgrad.work.hardware import compute_kernel_env
from hashgrad.work.hashing import compute_tagged_hash
from hashgrad.work.scoring import ScoringInputs, Submission, ValidatorState, compute_scores
from hashgrad.work.update import decode_update

SEED, OLD_SEED, SALT = b"\x31" * 32, b"\x30" * 32, b"\x41" * 32
KINDS = ["honest"] * 5 + ["lazy", "noise", "copycat", "replay", "poisoner", "sandbagger"]


def hotkey(uid: int) -> bytes:
    return compute_tagged_hash("test/hotkey", bytes([uid]))


def make_submissions(checkpoint, base_hash, dataset, params, epoch=1):
    """One epoch of the mixed swarm: honest miners commit first, copycat and replay last."""
    old = compute_output(
        "honest", MinerContext(checkpoint, base_hash, dataset, OLD_SEED, hotkey(99), epoch - 1, params)
    )
    subs, revealed, norms = [], [], []
    for uid, kind in enumerate(KINDS):
        ctx = MinerContext(
            checkpoint,
            base_hash,
            dataset,
            SEED,
            hotkey(uid),
            epoch,
            params,
            others=tuple(revealed),
            past=(old.artifact,),
            norm_hint=sorted(norms)[len(norms) // 2] if norms else 0.0,
        )
        out = compute_output(kind, ctx)
        if kind == "honest":
            revealed.append(out.artifact)
            norms.append(float(out.delta.norm()))
        subs.append(Submission(uid, hotkey(uid), out.commitment, uid, out.artifact))
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    return tuple(subs), decompress(decode_update(old.artifact, params, layout)[1], layout)


@pytest.fixture(scope="module")
def epoch(checkpoint, base_hash, dataset, params):
    subs, old = make_submissions(checkpoint, base_hash, dataset, params)
    audit_all = replace(params, audit_probability=1.0)
    inputs = ScoringInputs(audit_all, 1, SEED, SALT, checkpoint, base_hash, dataset, subs, history=(old,))
    return inputs, compute_scores(inputs, ValidatorState())


def test_each_adversary_is_caught_for_its_reason(epoch):
    _, report = epoch
    reasons = {KINDS[v.uid]: v.reason for v in report.verdicts if KINDS[v.uid] != "honest"}
    assert reasons["lazy"] == "zero-update"
    assert reasons["copycat"] == "copy"
    assert reasons["sandbagger"] == "audit-failed"
    assert reasons["replay"] == "replay"
    assert sum(report.weights.get(uid, 0.0) for uid, kind in enumerate(KINDS) if kind != "honest") == 0.0


def test_honest_miners_share_the_weights(epoch):
    _, report = epoch
    honest = [v for v in report.verdicts if KINDS[v.uid] == "honest"]
    assert all(v.reason is None and v.audited for v in honest)
    assert sum(report.weights.values()) == pytest.approx(1.0)
    assert len(report.weights) >= 3
    assert max(report.weights_u16.values()) == 65535
    assert set(report.weights_u16) == set(report.weights)


def test_a_failed_audit_bans_the_hotkey(epoch):
    inputs, report = epoch
    again = compute_scores(replace(inputs, params=replace(inputs.params, audit_probability=0.0)), report.state)
    reasons = {KINDS[v.uid]: v.reason for v in again.verdicts}
    assert reasons["sandbagger"] == "banned"


def reason_for(inputs, sub) -> str:
    report = compute_scores(replace(inputs, submissions=(sub,)), ValidatorState())
    return report.verdicts[0].reason


def test_invalid_bindings_are_rejected(epoch):
    inputs, _ = epoch
    sub = inputs.submissions[0]
    assert reason_for(replace(inputs, checkpoint_hash=b"\x00" * 32), sub) == "stale-base"
    assert reason_for(replace(inputs, epoch=2), sub) == "wrong-epoch"
    assert reason_for(inputs, replace(sub, hotkey=b"\x00" * 32)) == "wrong-hotkey"
    assert reason_for(inputs, replace(sub, commitment=b"\x00" * 32)) == "bad-commitment"
    assert reason_for(inputs, replace(sub, artifact=None)) == "not-revealed"
    assert reason_for(inputs, replace(sub, artifact=sub.artifact[:100])) == "bad-safetensors"


PURITY_SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
from conftest import *  # pins threads and determinism as the fixtures do
from hashgrad.work.data import build_dataset, get_stdlib_dir
from hashgrad.work.model import Checkpoint, checkpoint_hash, compute_initial_state
from hashgrad.work.params import get_preset
from hashgrad.work.scoring import ScoringInputs, ValidatorState, compute_scores
from test_scoring import SEED, SALT, make_submissions
params = get_preset("tiny")
dataset = build_dataset(get_stdlib_dir() / "email", params.page_tokens)
ckpt = Checkpoint(params.model, compute_initial_state(params.model, 0))
base = checkpoint_hash(ckpt.to_bytes())
subs, old = make_submissions(ckpt, base, dataset, params)
report = compute_scores(ScoringInputs(params, 1, SEED, SALT, ckpt, base, dataset, subs, (old,)), ValidatorState())
weights = {{str(k): __import__("struct").pack("<d", w).hex() for k, w in report.weights.items()}}
print(json.dumps({{"weights": weights,
                  "u16": report.weights_u16, "reasons": [v.reason for v in report.verdicts]}}))
"""


def test_scoring_is_a_pure_function_across_processes():
    tests = str(Path(__file__).resolve().parent)
    script = PURITY_SCRIPT.format(tests=tests)
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            env=compute_kernel_env(),
        )
        .stdout.strip()
        .splitlines()[-1]
        for _ in range(2)
    ]
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["weights"]


def test_gain_score_is_relative_to_the_median_and_superlinear(params):
    from hashgrad.work.evaluate import LossTest
    from hashgrad.work.scoring import compute_gain_score

    cubic = replace(params, gain_power=3.0, gain_cap=2.0, min_relative_gain=0.5)

    def test(s_rand, stderr=0.001):
        return LossTest(s_own=s_rand, s_rand=s_rand, rand_stderr=stderr, diff_stderr=stderr, z=1.0, gate_z=2.0)

    assert compute_gain_score(test(0.04), 0.04, cubic) == pytest.approx(1.0)
    assert compute_gain_score(test(0.03), 0.04, cubic) == pytest.approx(0.75**3)  # a 25 % shortfall loses 58 %
    assert compute_gain_score(test(0.2), 0.04, cubic) == pytest.approx(8.0)  # capped at 2x the median
    assert compute_gain_score(test(0.019), 0.04, cubic) == 0.0  # below half the median
    assert compute_gain_score(test(0.04, stderr=0.05), 0.04, cubic) == 0.0  # not significant
    assert compute_gain_score(test(0.04), 0.0, cubic) == 0.0


@pytest.mark.parametrize("inner_steps", [12, 16, 20])  # less than one pass, exactly one, more than one
def test_own_windows_are_windows_the_miner_trained_on(params, dataset, inner_steps):
    from hashgrad.work.data import compute_assigned_pages, compute_batch_order, compute_windows
    from hashgrad.work.evaluate import compute_own_windows
    from hashgrad.work.hashing import compute_sample, compute_seed

    params = replace(params, inner_steps=inner_steps)
    hotkey = compute_tagged_hash("test/hotkey", b"own")
    pages = compute_assigned_pages(SEED, hotkey, params.pages_per_miner, dataset.train_pages)
    order = compute_batch_order(SEED, hotkey, pages, params.windows_per_page, params.inner_steps, params.batch_size)
    trained = sorted({ref for batch in order for ref in batch})
    picked = compute_sample(compute_seed(SEED, "eval-own", SALT, hotkey), len(trained), params.eval_own_windows)
    expected = compute_windows(dataset, [trained[i] for i in sorted(picked)], params.model.block_size + 1)
    assert torch.equal(compute_own_windows(dataset, params, SEED, SALT, hotkey), expected)
