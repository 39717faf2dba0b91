"""Scoring that follows work: clustered errors, the own-data gate, credit above the median norm,
adaptive audits (hashgrad.work.scoring, hashgrad.work.evaluate)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from hashgrad.work.evaluate import LossTest, compute_stderr
from hashgrad.work.scoring import (
    OwnGate,
    Rating,
    compute_audit_probability,
    compute_credit_clip,
    compute_own_factor,
    compute_own_gate,
    compute_round_credit,
    is_own_gate_passed,
)


def loss_test(s_own, s_rand, se=0.001, gate_z=2.0):
    return LossTest(s_own=s_own, s_rand=s_rand, rand_stderr=se, diff_stderr=se, z=1.0, gate_z=gate_z)


def test_errors_clustered_by_page_are_wider_when_pages_differ():
    gains = torch.tensor([1.0, 1.1, 0.9, 1.0, 3.0, 3.1, 2.9, 3.0])  # two pages of four windows, far apart
    pages = [7, 7, 7, 7, 9, 9, 9, 9]
    plain, clustered = compute_stderr(gains, 1.0), compute_stderr(gains, 1.0, pages)
    assert clustered > 1.5 * plain
    assert compute_stderr(gains, 1.0, list(range(8))) == pytest.approx(plain)  # one window per page: the plain error
    assert compute_stderr(gains, 1.0, [1] * 8) == float("inf")  # one page: no estimate of the spread
    assert compute_stderr(gains[:1], 1.0, [1]) == 0.0


def test_own_gate_is_strict_once_the_median_update_shows_its_own_data(params):
    params = replace(params, gate_z=2.0, gate_margin=2.33)
    clear = {uid: loss_test(0.05 + 0.01 * uid, 0.03) for uid in range(5)}  # excess 0.02..0.06 at se 0.001
    gate = compute_own_gate(clear, params)
    assert gate.enforced and gate.measurable and gate.median_excess == pytest.approx(0.04)
    assert is_own_gate_passed(loss_test(0.033, 0.03), gate, params)  # 3 errors above random
    assert not is_own_gate_passed(loss_test(0.031, 0.03), gate, params)  # 1 error above: trained elsewhere
    blurred = {uid: loss_test(0.031, 0.03) for uid in range(5)}  # early training: every page alike
    loose = compute_own_gate(blurred, params)
    assert not loose.enforced and not loose.measurable
    half = compute_own_gate({uid: loss_test(0.0335, 0.03) for uid in range(5)}, params)  # 3.5 errors
    assert half.measurable and not half.enforced
    assert is_own_gate_passed(loss_test(0.029, 0.03), loose, params)  # 1 error worse: not significant
    assert not is_own_gate_passed(loss_test(0.02, 0.03), loose, params)  # much worse on its own windows: fails


def test_credit_follows_the_share_of_own_data_and_is_zero_past_the_gate(params):
    gate = OwnGate(enforced=True, measurable=True, median_excess=0.04)
    assert compute_own_factor(loss_test(0.07, 0.03), gate) == 1.0
    assert compute_own_factor(loss_test(0.04, 0.03), gate) == pytest.approx(0.25)
    assert compute_own_factor(loss_test(0.04, 0.03), OwnGate(False, True, 0.04)) == pytest.approx(0.25)
    assert compute_own_factor(loss_test(0.04, 0.03), OwnGate(False, False, 0.04)) == 1.0
    params = replace(params, gain_power=1.0, min_relative_gain=0.5, gain_cap=2.0)
    assert compute_round_credit(loss_test(0.07, 0.03), 0.03, gate, params) == pytest.approx(1.0)
    assert compute_round_credit(loss_test(0.05, 0.03), 0.03, gate, params) == pytest.approx(0.5)
    assert compute_round_credit(loss_test(0.0305, 0.03), 0.03, gate, params) == 0.0


def test_the_credit_clip_sits_at_a_quantile_of_the_norms(params):
    updates = {uid: torch.full((4,), float(uid)) for uid in range(9)}  # norms 0, 2, 4, ... 16
    assert compute_credit_clip(updates, replace(params, score_clip_quantile=0.75)) == pytest.approx(14.0)
    assert compute_credit_clip(updates, replace(params, score_clip_quantile=0.5)) == pytest.approx(10.0)
    assert compute_credit_clip({0: torch.zeros(4)}, params) == 0.0


def test_audits_are_likelier_for_new_and_suspect_hotkeys(params):
    params = replace(params, audit_probability=0.02, audit_boost=4.0, audit_new_epochs=2)
    assert compute_audit_probability(None, params) == pytest.approx(0.08)
    assert compute_audit_probability(Rating(seen=1), params) == pytest.approx(0.08)
    assert compute_audit_probability(Rating(seen=2), params) == pytest.approx(0.02)
    assert compute_audit_probability(Rating(seen=1), replace(params, audit_new_epochs=1)) == pytest.approx(0.02)
    assert compute_audit_probability(Rating(seen=9, suspect=True), params) == pytest.approx(0.08)
    assert compute_audit_probability(None, replace(params, audit_probability=0.5)) == 1.0
