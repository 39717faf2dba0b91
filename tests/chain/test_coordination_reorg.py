"""Reorgs across epoch boundaries undo epoch processing exactly.

Three nodes: producers A and B share a prefix (one whole epoch of a job, and the next up to its
weights window), then each extends its own branch with its own random weights, stake moves and
registrations (`Autopilot`), crossing epoch ends where consensus pays, bonds move and stats change.
An observer is fed one branch, then the other as soon as it has more work, back and forth at random
lengths. After every switch the observer's whole `state` table must equal the producer's, which
built that chain without ever reorganising; at the end it must equal a replay of the observer's best
chain from genesis in a fresh datadir.
"""

from __future__ import annotations

import random

import pytest

from support.coordination import COIN, PARAMS, Autopilot, FakeClock, Member, Net, compute_weights
from support.ledger import dump_state, replay_active_chain


def feed(observer: Net, source: Net) -> int:
    """Give the observer every block of the source's active chain it does not know yet; returns how
    many blocks the observer disconnected on the way (the depth of the reorg, 0 for none)."""
    disconnected = 0
    for block_hash in source.chainstate.active:
        if block_hash not in observer.chainstate.index:
            disconnected += len(observer.ledger.submit_block(source.chainstate.get_block(block_hash)).disconnected)
    return disconnected


def records(net: Net, prefix: bytes) -> dict[bytes, bytes]:
    return {k: v for k, v in dump_state(net.chainstate).items() if k[:1] == prefix}


@pytest.mark.parametrize("seed", [7, 11])
def test_accept_block_reorgs_across_epoch_ends_restore_state_exactly(tmp_path, seed):
    rng = random.Random(seed)
    clock = FakeClock(PARAMS.genesis_time)
    a = Net.create(tmp_path / "a", clock=clock)
    miners = [Member.named(f"miner{i}") for i in range(3)]
    validators = [Member.named(f"validator{i}") for i in range(2)]
    newcomers = [Member.named(f"newcomer{i}") for i in range(4)]
    a.join([*miners, *validators], stakes={v.name: 10 * COIN for v in validators})
    a.fund({n.cold.pubkey: COIN for n in newcomers})
    a.run_epoch(
        1,
        {m: "reveal" for m in miners},
        {
            v: (lambda n, i=i: compute_weights(n, {m: 1000 * (i + j + 1) for j, m in enumerate(miners)}))
            for i, v in enumerate(validators)
        },
    )
    Autopilot(a, miners, validators, newcomers, random.Random(0), reveal_rate=1.0).step(a.job().work_reveal_end)
    assert a.height == 2 * 30 + a.job().work_reveal_end  # the fork point: epoch 2's work is revealed,
    # its weights not yet committed, so each branch will commit its own

    b, observer = Net.create(tmp_path / "b", clock=clock), Net.create(tmp_path / "observer", clock=clock)
    feed(b, a)
    feed(observer, a)
    assert dump_state(b.chainstate) == dump_state(a.chainstate) == dump_state(observer.chainstate)
    pilots = {
        "a": Autopilot(a, miners, validators, newcomers, random.Random(seed + 1)),
        "b": Autopilot(b, miners, validators, newcomers, random.Random(seed + 2)),
    }
    producers = {"a": a, "b": b}
    fork_height = a.height

    pilots["a"].step(15)  # crosses the end of epoch 2 (height 90)
    assert feed(observer, a) == 0
    pilots["b"].step(rng.randrange(12, 16))
    assert records(a, b"E") != records(b, b"E") and records(a, b"B") != records(b, b"B")  # truly different
    leader, switches, crossed = "a", 0, set()
    for _ in range(6):
        follower = "b" if leader == "a" else "a"
        gap = producers[leader].height - producers[follower].height
        pilots[follower].step(max(gap, 0) + rng.randrange(1, 14))
        assert feed(observer, producers[follower]) > 0  # a real reorg: the other branch is disconnected
        assert observer.chainstate.tip.hash == producers[follower].chainstate.tip.hash
        assert dump_state(observer.chainstate) == dump_state(producers[follower].chainstate)
        crossed.update(h // 30 for h in range(fork_height + 1, observer.height + 1) if h % 30 == 0)
        leader, switches = follower, switches + 1
    assert switches == 6 and len(crossed) >= 2  # the branches each ran at least two epoch ends

    replay = replay_active_chain(observer.chainstate, tmp_path / "replay")
    assert dump_state(replay) == dump_state(observer.chainstate)
    assert all(audit.is_balanced for net in (a, b) for _, audit in net.audits)
    replay.close()
    for net in (a, b, observer):
        net.close()
