"""The in-process network paid through Yuma (hashgrad.work.network): who earns what."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hashgrad.work.network import build_network, make_miner, run_network_epoch

STAKE = 10**11


@pytest.fixture(scope="module")
def run(checkpoint, dataset, params):
    miners = [make_miner(uid) for uid in range(4)] + [make_miner(4, kind="sandbagger", sandbag_fraction=0.5)]
    net = build_network(
        replace(params, audit_probability=0.0, audit_boost=1.0),
        dataset,
        checkpoint,
        miners,
        [(STAKE, False)] * 3 + [(STAKE, True)],
    )
    forced = [{}, {0: frozenset({miners[4].hotkey})}, {}]
    return net, [run_network_epoch(net, f) for f in forced]


def test_only_miners_earn_incentive_and_only_validators_dividends(run):
    net, records = run
    validators = {v.uid for v in net.validators}
    for record in records:
        assert sum(record.incentive.values()) == pytest.approx(1.0, abs=1e-6)
        assert not validators & set(record.incentive)  # stake without work earns nothing as a miner
        assert set(record.dividends) <= validators


def test_one_validators_catch_zeroes_the_cheater_in_consensus(run):
    net, records = run
    assert records[0].incentive.get(4, 0.0) > 0  # before anyone audits it, the sandbagger earns
    assert [len(r.evidence) for r in records] == [0, 1, 0]
    assert {r.verdicts[4].reason for r in records[1].reports} == {"audit-failed", "audit-evidence"}
    assert all(r.incentive.get(4, 0.0) == 0.0 for r in records[1:])
    assert all(v.state.ratings[net.miners[4].hotkey].banned for v in net.validators if not v.copier)


def test_the_weight_copier_earns_less_than_an_honest_validator(run):
    net, records = run
    copier, honest = net.validators[-1].uid, [v.uid for v in net.validators[:-1]]
    assert records[0].dividends.get(copier, 0.0) == 0.0  # nothing revealed yet to copy
    copied = sum(r.dividends.get(copier, 0.0) for r in records[1:])
    assert 0 < copied < min(sum(r.dividends.get(uid, 0.0) for r in records[1:]) for uid in honest)
