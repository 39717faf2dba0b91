"""Epoch processing in block connect (`chain.epoch`): who gets paid, how much, and that no unit of
money appears or vanishes. Most tests read one shared three-epoch scenario on job 0:

    miners   m0, m1 commit and reveal every epoch; lazy commits every epoch and never reveals
    validators v1 (stake 10) and v2 (stake 5) weight m0 > m1 and, naively, lazy too

Then a weight copier against honest validators, the checkpoint quorum, and Yuma 2 on chain.
"""

from __future__ import annotations

import random

import pytest

from hashgrad.chain.coordination import checkpoint_key
from hashgrad.chain.coordination_make import make_attest_checkpoint, make_stake
from hashgrad.chain.coordination_rules import get_job_state, get_stats
from hashgrad.chain.subsidy import compute_block_subsidy, compute_subsidy_split
from support.coordination import BASE, COIN, FEE, Member, Net, compute_weights, make_key, with_job

EPOCHS = (1, 2, 3)


def compute_pool_accrual(net: Net, height: int, job_id: int) -> int:
    params = net.params
    subsidy = compute_block_subsidy(height, params.initial_subsidy, params.subsidy_halving_interval)
    return compute_subsidy_split(subsidy, params.block_maker_share_bps, params.job_shares_bps)[1][job_id]


class Snapshots:
    """After every block: each job's pool and each member hotkey's balance, by height."""

    def __init__(self, members: list[Member]):
        self.members = members
        self.pools: dict[int, tuple[int, int]] = {}
        self.balances: dict[int, dict[str, int]] = {}

    def __call__(self, net: Net) -> None:
        self.pools[net.height] = (net.pool(0), net.pool(1))
        self.balances[net.height] = {m.name: net.balance(m.hot.pubkey) for m in self.members}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    net = Net.create(tmp_path_factory.mktemp("scenario") / "chain")
    m0, m1, lazy = Member.named("m0"), Member.named("m1"), Member.named("lazy")
    v1, v2 = Member.named("v1"), Member.named("v2")
    members = [m0, m1, lazy, v1, v2]
    snapshots = Snapshots(members)
    net.observers.append(snapshots)
    net.join(members, stakes={"v1": 10 * COIN, "v2": 5 * COIN})
    for epoch in EPOCHS:
        net.run_epoch(
            epoch,
            {m0: "reveal", m1: "reveal", lazy: "commit-only"},
            {
                v1: lambda n: compute_weights(n, {m0: 40_000, m1: 20_000, lazy: 30_000}),
                v2: lambda n: compute_weights(n, {m0: 30_000, m1: 20_000, lazy: 30_000}),
            },
        )
    yield net, {m.name: m for m in members}, snapshots
    net.close()


def test_process_epoch_pays_nothing_to_a_miner_that_never_reveals(scenario):
    net, members, snapshots = scenario
    lazy = members["lazy"]
    stats = net.stats(lazy)
    assert stats.epoch == EPOCHS[-1] and stats.incentive == 0 and stats.consensus == 0
    assert stats.emission == 0 and stats.total_earned == 0
    assert net.balance(lazy.hot.pubkey) == COIN - FEE * len(EPOCHS)  # it only ever paid its commit fees
    assert net.stats(members["m0"]).incentive > net.stats(members["m1"]).incentive > 0


def test_compute_supply_audit_balanced_after_every_block(scenario):
    net, _, _ = scenario
    heights = [height for height, _ in net.audits]
    assert heights == list(range(1, net.height + 1))
    unbalanced = [(height, audit) for height, audit in net.audits if not audit.is_balanced]
    assert unbalanced == []
    final = net.ledger.compute_supply_audit()
    assert dict(final.extra)["staked"] == 15 * COIN and final.burned == 5 * net.job().initial_burn
    assert final.issued == sum(
        compute_block_subsidy(h, net.params.initial_subsidy, net.params.subsidy_halving_interval)
        for h in range(1, net.height + 1)
    )


def test_process_epoch_credits_exactly_the_pool(scenario):
    """At each epoch end: the pool (with that block's accrual) is paid out to the unit, each hotkey's
    balance grows by its recorded emission, and the idle job 1 keeps accruing untouched."""
    net, members, snapshots = scenario
    tempo = net.job().tempo
    for epoch in EPOCHS:
        end = (epoch + 1) * tempo
        pool_due = snapshots.pools[end - 1][0] + compute_pool_accrual(net, end, 0)
        assert snapshots.pools[end][0] == 0
        assert snapshots.pools[end][1] == snapshots.pools[end - 1][1] + compute_pool_accrual(net, end, 1)
        credited = {name: snapshots.balances[end][name] - snapshots.balances[end - 1][name] for name in members}
        assert sum(credited.values()) == pool_due > 0
        assert credited["lazy"] == 0 and all(credited[name] > 0 for name in ("m0", "m1", "v1", "v2"))
        miners_part = credited["m0"] + credited["m1"]
        assert abs(miners_part - pool_due * net.job().miner_share_bps // 10_000) <= 1
    for name, member in members.items():
        assert net.stats(member).emission == credited[name]  # the last epoch's record matches the money


def test_process_epoch_records_permits_and_bonds(scenario):
    net, members, _ = scenario
    v1, v2 = net.stats(members["v1"]), net.stats(members["v2"])
    assert v1.validator_permit and v2.validator_permit and not net.stats(members["m0"]).validator_permit
    assert v1.dividends > v2.dividends > 0 and v1.emission > v2.emission
    assert get_job_state(net.chainstate, net.job()).last_epoch_processed == EPOCHS[-1]
    assert v1.last_update == v2.last_update > 0


# ----------------------------------------------------------------------------- weight copying
def compute_quality(miner: int, epoch: int) -> int:
    """Miner quality changes every epoch (data, luck, a stale base...): the ranking rotates."""
    return (8, 4, 2, 1)[(miner + epoch) % 4]


def test_process_epoch_weight_copier_earns_less_than_honest_validators(net):
    """Three validators with equal stake score four miners over five epochs (Yuma 3, liquid alpha,
    bonds). The honest two measure each epoch's quality, each with its own ±10% noise. The copier
    does what a lazy validator can do under commit-reveal: it cannot see this epoch's weights before
    the reveal window, so it commits the latest consensus on chain — last epoch's — as its weights
    (uniform in epoch 1, when there is none). Quality changes every epoch, so its copy always lags:
    consensus clips it, its validator trust falls, its bonds point at last epoch's best, and its
    dividends fall below each honest validator's in every epoch and in total."""
    miners = [Member.named(f"miner{i}") for i in range(4)]
    honest_a, honest_b, copier = Member.named("honest-a"), Member.named("honest-b"), Member.named("copier")
    validators = (honest_a, honest_b, copier)
    net.join([*miners, *validators], stakes={v.name: 10 * COIN for v in validators})
    rng = random.Random(2026)

    def measure(epoch: int):
        return lambda n: compute_weights(
            n, {m: int(compute_quality(j, epoch) * 6_000 * rng.uniform(0.9, 1.1)) for j, m in enumerate(miners)}
        )

    def copy_last_consensus(n: Net):
        consensus = {m: get_stats(n.chainstate, 0, n.uid(m)).consensus for m in miners}
        return compute_weights(n, consensus if any(consensus.values()) else {m: 1 for m in miners})

    for epoch in range(1, 6):
        net.run_epoch(
            epoch,
            {m: "reveal" for m in miners},
            {honest_a: measure(epoch), honest_b: measure(epoch), copier: copy_last_consensus},
        )
        stats = {v.name: net.stats(v) for v in validators}
        for name in ("honest-a", "honest-b"):
            assert stats["copier"].emission < stats[name].emission
            assert stats["copier"].validator_trust < stats[name].validator_trust
    earned = {v.name: net.stats(v).total_earned for v in validators}
    assert earned["copier"] < min(earned["honest-a"], earned["honest-b"]) * 3 // 4


# ----------------------------------------------------------------------------- checkpoints
def attest(net: Net, member: Member, epoch: int, checkpoint: bytes) -> None:
    net.send(member.hot, make_attest_checkpoint, 0, epoch, checkpoint)
    net.mine()


def recorded_checkpoint(net: Net, epoch: int) -> bytes | None:
    raw = net.chainstate.get(checkpoint_key(0, epoch))
    return raw[:32] if raw else None


def test_apply_attest_checkpoint_records_only_above_quorum(net):
    """Stakes 30/20/10 (quorum: more than half of 60). A split vote records nothing; exactly half is
    not more than half; the third attestation of the same hash records it, with its height."""
    big, mid, small = Member.named("big"), Member.named("mid"), Member.named("small")
    net.join([big, mid, small, Member.named("miner")], stakes={"big": 30 * COIN, "mid": 20 * COIN, "small": 10 * COIN})
    other = make_key("another checkpoint").pubkey
    attest(net, big, 0, other)
    attest(net, mid, 0, BASE)
    attest(net, small, 0, BASE)
    assert recorded_checkpoint(net, 0) is None  # 30 for one hash, 30 for the other: neither above 30

    attest(net, mid, 1, BASE)
    attest(net, small, 1, BASE)
    assert recorded_checkpoint(net, 1) is None  # exactly half
    attest(net, big, 1, BASE)
    assert recorded_checkpoint(net, 1) == BASE
    assert net.chainstate.get(checkpoint_key(0, 1))[32:] == net.height.to_bytes(4, "little")


def test_apply_attest_checkpoint_counts_moved_stake_once(net):
    """One coldkey owns two validator hotkeys: stake attests on the first, moves to the second, which
    attests again. The same coins count once, so 20 of 50 stays short of the quorum."""
    owner = make_key("owner/cold")
    first = Member("first", owner, make_key("first/hot"))
    second = Member("second", owner, make_key("second/hot"))
    honest = Member.named("honest")
    net.join([first, honest], stakes={"first": 20 * COIN, "honest": 30 * COIN})
    net.fund({second.hot.pubkey: COIN})
    net.register(second)
    net.mine()
    attest(net, first, 0, BASE)
    net.send(owner, make_stake, first.hot.pubkey, 20 * COIN, add=False)
    net.send(owner, make_stake, second.hot.pubkey, 20 * COIN)
    net.mine()
    attest(net, second, 0, BASE)
    assert net.stake(first) == 0 and net.stake(second) == 20 * COIN
    assert recorded_checkpoint(net, 0) is None
    attest(net, honest, 0, BASE)
    assert recorded_checkpoint(net, 0) == BASE


# ----------------------------------------------------------------------------- Yuma 2 on chain
def test_process_epoch_with_yuma2(tmp_path):
    net = Net.create(tmp_path / "chain", with_job(yuma3=False, liquid_alpha=False))
    miner, validator = Member.named("miner"), Member.named("validator")
    net.join([miner, validator], stakes={"validator": 10 * COIN})
    for epoch in (1, 2):
        net.run_epoch(epoch, {miner: "reveal"}, {validator: lambda n: compute_weights(n, {miner: 1_000})})
    assert net.pool(0) == 0 and net.stats(miner).emission > 0 and net.stats(validator).dividends == 65535
    assert all(audit.is_balanced for _, audit in net.audits)
    net.close()
