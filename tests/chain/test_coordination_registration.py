"""Registration economics and slots: the burn price follows demand (subtensor's rule, clamped), a full
job replaces its lowest-emission non-immune uid (whose bonds and open-epoch records go with it), and
the state-key layout keeps every record kind apart from the ledger's accounts."""

from __future__ import annotations

from hashgrad.chain import coordination
from hashgrad.chain.coordination_make import make_commit_work
from hashgrad.chain.coordination_rules import get_bonds_row, get_job_state, get_neuron
from hashgrad.chain.state import ACCOUNT_PREFIX, POOL_PREFIX, SUPPLY_KEY
from support.coordination import BASE, COIN, Member, Net, compute_artifact, compute_weights, with_job


def burn(net: Net, job_id: int = 0) -> int:
    return get_job_state(net.chainstate, net.job(job_id)).burn


def test_put_burn_update_rises_with_demand_and_falls_without(net):
    job = net.job()
    assert burn(net) == job.initial_burn
    crowd = [Member.named(f"crowd{i}") for i in range(6)]  # target is 4 a epoch
    net.join(crowd)
    net.finish_epoch(0)
    risen = job.initial_burn * (6 + 4) // 8
    assert burn(net) == risen > job.initial_burn
    assert get_job_state(net.chainstate, job).registrations_this_epoch == 0
    expected = risen
    for epoch in range(1, 6):  # nobody registers: halves each epoch, down to the floor
        net.finish_epoch(epoch)
        expected = max(expected * 4 // 8, job.min_burn)
        assert burn(net) == expected
    assert burn(net) == job.min_burn
    assert burn(net, 1) == max(net.job(1).initial_burn // 2**6, net.job(1).min_burn)  # the other job, idle


def test_put_burn_update_clamps_to_max_burn(tmp_path):
    ceiling = COIN // 10 + COIN // 100
    net = Net.create(tmp_path / "chain", with_job(max_burn=ceiling))
    net.join([Member.named(f"crowd{i}") for i in range(8)])
    net.finish_epoch(0)
    assert burn(net) == ceiling  # 0.1 * (8+4)/8 = 0.15 coin, clamped
    net.close()


def test_apply_register_replaces_lowest_emission_non_immune_uid(tmp_path):
    """A full job (3 slots) pays its epoch, then a newcomer takes the slot of the miner that earned
    least; the bonds held toward that slot and its own bonds are cleared, the others are untouched."""
    net = Net.create(tmp_path / "chain", with_job(max_uids=3, immunity_period=20))
    strong, weak, validator = Member.named("strong"), Member.named("weak"), Member.named("validator")
    net.join([strong, weak, validator], stakes={"validator": 10 * COIN})
    net.run_epoch(
        1, {strong: "reveal", weak: "reveal"}, {validator: lambda n: compute_weights(n, {strong: 60_000, weak: 5_000})}
    )
    weak_uid, strong_uid, val_uid = net.uid(weak), net.uid(strong), net.uid(validator)
    assert 0 < net.stats(weak).emission < net.stats(strong).emission
    assert net.stats(weak).emission < net.stats(validator).emission
    assert weak_uid in dict(get_bonds_row(net.chainstate, 0, val_uid))

    newcomer = Member.named("newcomer")
    net.fund({newcomer.cold.pubkey: COIN, newcomer.hot.pubkey: COIN})
    net.register(newcomer)
    net.mine()
    assert net.uid(newcomer) == weak_uid and net.uid(weak) is None
    neuron = get_neuron(net.chainstate, 0, weak_uid)
    assert neuron.hotkey == newcomer.hot.pubkey and neuron.registered_height == net.height
    assert get_job_state(net.chainstate, net.job()).n_uids == 3
    assert weak_uid not in dict(get_bonds_row(net.chainstate, 0, val_uid))
    assert strong_uid in dict(get_bonds_row(net.chainstate, 0, val_uid))
    assert net.stats(newcomer).emission == 0 and net.stats(newcomer).total_earned == 0
    assert net.stake(weak) == 0 and net.uid(strong) == strong_uid  # the old hotkey keeps its (zero) stake record

    late = Member.named("late")  # the newcomer earned nothing yet but is immune: the next lowest goes
    lowest = min((strong, validator), key=lambda m: net.stats(m).emission)
    lowest_uid = net.uid(lowest)
    net.fund({late.cold.pubkey: COIN})
    net.register(late)
    net.mine()
    assert net.uid(late) == lowest_uid and net.uid(lowest) is None and net.uid(newcomer) == weak_uid
    net.close()


def test_apply_register_replacement_clears_the_slots_open_epoch_records(tmp_path):
    """A slot taken mid-epoch does not pass the old hotkey's commit to the newcomer (records are keyed
    by uid): the newcomer can commit its own work instead of being refused as a duplicate."""
    net = Net.create(tmp_path / "chain", with_job(max_uids=2, immunity_period=1))
    old, validator = Member.named("old"), Member.named("validator")
    net.join([old])
    net.join([validator], stakes={"validator": 10 * COIN})  # registered later: on a tie, the oldest goes
    net.advance_to_offset(1, 0)
    net.send(old.hot, make_commit_work, 0, 1, compute_artifact(old.hot.pubkey, 1), BASE)
    net.mine()
    slot = net.uid(old)
    assert net.chainstate.get(coordination.work_commit_key(0, 1, slot)) is not None

    newcomer = Member.named("newcomer")
    net.fund({newcomer.cold.pubkey: COIN, newcomer.hot.pubkey: COIN})
    net.register(newcomer)
    net.mine()
    assert net.uid(newcomer) == slot
    assert net.chainstate.get(coordination.work_commit_key(0, 1, slot)) is None
    net.send(newcomer.hot, make_commit_work, 0, 1, compute_artifact(newcomer.hot.pubkey, 1), BASE)
    net.mine()
    assert net.chainstate.get(coordination.work_commit_key(0, 1, slot))[32:] == net.height.to_bytes(4, "little")
    net.close()


def test_state_key_prefixes_are_distinct():
    """Each record kind has its own first byte, none equal to the ledger's: prefix scans stay clean."""
    keys = [
        coordination.uid_key(0, b"h" * 32),
        coordination.neuron_key(0, 0),
        coordination.job_state_key(0),
        coordination.stake_key(b"h" * 32),
        coordination.work_commit_key(0, 0, 0),
        coordination.work_reveal_key(0, 0, 0),
        coordination.weights_commit_key(0, 0, 0),
        coordination.weights_reveal_key(0, 0, 0),
        coordination.bonds_key(0, 0),
        coordination.stats_key(0, 0),
        coordination.attest_key(0, 0, 0),
        coordination.attest_total_key(0, 0, b"c" * 32),
        coordination.checkpoint_key(0, 0),
        coordination.endpoint_key(0, 0),
    ]
    prefixes = [key[:1] for key in keys]
    assert len(set(prefixes)) == len(prefixes)
    assert not set(prefixes) & {ACCOUNT_PREFIX, POOL_PREFIX, SUPPLY_KEY[:1]}
