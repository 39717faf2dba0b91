"""The chainstate as a whole: connect-then-disconnect restores every table exactly, random block
trees submitted in random order end where a replay of the best chain from genesis ends (state,
indexes and the pure rules' own state all agree), the supply stays balanced after every block, and
reorgs are bounded and survive a branch that fails half-way."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from hashgrad.chain.genesis import build_genesis_block
from hashgrad.chain.state import StateOverlay, get_account
from hashgrad.chain.tx import make_coinbase
from hashgrad.chain.validation import apply_block
from hashgrad.errors import HashgradError
from hashgrad.node.ledger import Ledger
from hashgrad.store.chainstate import ChainState
from support.ledger import (
    ALICE,
    FEE,
    NOW,
    PARAMS,
    dump_all,
    dump_state,
    make_block,
    make_child,
    make_key,
    make_transfer,
    mine,
    replay_active_chain,
    with_params,
)

KEYS = [make_key(i) for i in range(1, 6)]


def compute_child_state(base: dict[bytes, bytes], block, height: int) -> dict[bytes, bytes]:
    """The pure rules' state after `block`, over a plain dict (the chainstate must agree with it)."""
    overlay = StateOverlay(base)
    apply_block(PARAMS, overlay, block, height)
    state = dict(base)
    for key, value in overlay.changes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    return state


def draw_transfers(draw, state: dict[bytes, bytes], count_max: int = 4) -> tuple:
    """Up to count_max valid transfers between the test keys, funded by what `state` holds."""
    balances = {k.pubkey: get_account(state, k.pubkey) for k in KEYS}
    txs = []
    for _ in range(draw(st.integers(0, count_max))):
        sender = KEYS[draw(st.integers(0, len(KEYS) - 1))]
        account = balances[sender.pubkey]
        if account.balance <= FEE + 1:
            continue
        recipient = KEYS[draw(st.integers(0, len(KEYS) - 1))]
        amount = draw(st.integers(1, account.balance - FEE))
        txs.append(make_transfer(sender, account.nonce, recipient.pubkey, amount))
        balances[sender.pubkey] = type(account)(account.balance - amount - FEE, account.nonce + 1)
        if recipient.pubkey != sender.pubkey:
            other = balances[recipient.pubkey]
            balances[recipient.pubkey] = type(other)(other.balance + amount, other.nonce)
        else:
            balances[sender.pubkey] = type(account)(account.balance - FEE, account.nonce + 1)
    return tuple(txs)


# ---------------------------------------------------------------- connect / disconnect

KEYS_OR_VALUES = st.sampled_from([b"A1", b"A2", b"P\x00\x00", b"S"])


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(KEYS_OR_VALUES, st.binary(min_size=1, max_size=8)),
    st.lists(st.tuples(st.booleans(), KEYS_OR_VALUES, st.none() | st.binary(min_size=1, max_size=8)), max_size=12),
)
def test_compute_undo_reverts_overlay(base, operations):
    """Reads and writes in any order (blind writes included): the undo restores the base exactly."""
    overlay = StateOverlay(base)
    for is_read, key, value in operations:
        if is_read:
            expected = overlay.changes[key] if key in overlay.changes else base.get(key)
            assert overlay.get(key) == expected
        else:
            overlay.put(key, value)
    after = {k: v for k, v in {**base, **overlay.changes}.items() if v is not None}
    for key, old in overlay.compute_undo().items():
        if old is None:
            after.pop(key, None)
        else:
            after[key] = old
    assert after == base


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_connect_then_disconnect_restores_state(data):
    with tempfile.TemporaryDirectory() as tmp:
        chainstate = ChainState(PARAMS, Path(tmp))
        try:
            for key in KEYS[:3]:
                mine(chainstate, payout=key.pubkey)
            before = dump_all(chainstate)
            txs = draw_transfers(data.draw, dump_state(chainstate), count_max=8)
            block = mine(chainstate, txs, payout=KEYS[data.draw(st.integers(0, len(KEYS) - 1))].pubkey)
            assert dump_all(chainstate) != before
            with chainstate.lock:
                assert chainstate._disconnect_tip().hash == block.hash
            assert dump_all(chainstate) == before
        finally:
            chainstate.close()


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4), st.integers(0, 12 * 10**8)), max_size=6))
def test_failed_connect_leaves_state_unchanged(transfers):
    with tempfile.TemporaryDirectory() as tmp:
        chainstate = ChainState(PARAMS, Path(tmp))
        try:
            for key in KEYS[:3]:
                mine(chainstate, payout=key.pubkey)
            nonces: dict[int, int] = {}
            txs = []
            for sender, recipient, amount in transfers:  # right nonces; amounts may overdraw
                txs.append(make_transfer(KEYS[sender], nonces.get(sender, 0), KEYS[recipient].pubkey, amount))
                nonces[sender] = nonces.get(sender, 0) + 1
            before = dump_all(chainstate)
            try:
                chainstate.accept_block(make_child(chainstate, tuple(txs)), NOW)
            except HashgradError as exc:
                assert exc.reason in ("bad-txns-balance", "bad-txns-amount")
                assert dump_all(chainstate) == before
        finally:
            chainstate.close()


# ---------------------------------------------------------------- random reorgs


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_random_reorgs_match_replay_from_genesis(data):
    genesis = build_genesis_block(PARAMS)
    nodes = [(genesis.hash, 0, genesis.header.time, {})]  # (hash, height, time, pure state)
    blocks = []
    for _ in range(data.draw(st.integers(4, 30), label="blocks")):
        parent_hash, height, time, state = nodes[data.draw(st.integers(max(0, len(nodes) - 6), len(nodes) - 1))]
        txs = draw_transfers(data.draw, state)
        payout = KEYS[data.draw(st.integers(0, len(KEYS) - 1))].pubkey
        block = make_block(
            parent_hash,
            height + 1,
            time + data.draw(st.integers(1, 900)),
            txs,
            payout,
            extra=len(blocks).to_bytes(2, "little"),
        )
        nodes.append((block.hash, height + 1, block.header.time, compute_child_state(state, block, height + 1)))
        blocks.append(block)
    order = data.draw(st.permutations(blocks), label="order")
    expected_states = {h: state for h, _, _, state in nodes}

    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(PARAMS, Path(tmp) / "node", clock=lambda: NOW)
        try:
            deepest = 0
            for block in order:
                result = ledger.submit_block(block)
                deepest = max(deepest, len(result.disconnected))
                assert ledger.compute_supply_audit().is_balanced
            event(f"deepest reorg: {min(deepest, 3)}{'+' if deepest >= 3 else ''}")
            chainstate = ledger.chainstate
            assert not chainstate.orphans and len(chainstate.index) == len(blocks) + 1
            best_work = max(e.chainwork for e in chainstate.index.values())
            first_best = min((e for e in chainstate.index.values() if e.chainwork == best_work), key=lambda e: e.seq)
            assert chainstate.tip.hash == first_best.hash  # most work; among equals the first received
            assert dump_state(chainstate) == expected_states[chainstate.tip.hash]
            replay = replay_active_chain(chainstate, Path(tmp) / "replay")
            try:
                assert dump_all(replay) == dump_all(chainstate)
            finally:
                replay.close()
            final = dump_all(chainstate)
        finally:
            ledger.close()
        reopened = ChainState(PARAMS, Path(tmp) / "node")
        try:
            assert dump_all(reopened) == final and reopened.tip.hash == first_best.hash
        finally:
            reopened.close()


def test_reorg_to_longer_branch_and_back(funded):
    fork = funded.tip.hash
    a = [mine(funded, (make_transfer(ALICE, 0, KEYS[1].pubkey, 10_000),))]
    a.append(mine(funded))
    b1 = make_child(funded, parent_hash=fork, payout=KEYS[2].pubkey)
    b2 = make_block(b1.hash, 3, b1.header.time + 60)
    b3 = make_block(b2.hash, 4, b2.header.time + 60)
    assert funded.accept_block(b1, NOW).status == "side-branch"
    assert funded.accept_block(b2, NOW).status == "side-branch"  # equal work: the first received stays
    result = funded.accept_block(b3, NOW)
    assert result.status == "connected"
    assert [b.hash for b in result.disconnected] == [a[1].hash, a[0].hash]
    assert [b.hash for b in result.connected] == [b1.hash, b2.hash, b3.hash]
    assert get_account(funded, KEYS[1].pubkey).balance == 0  # the transfer of branch A is undone
    assert funded.get_transaction(a[0].txs[1].txid) is None


def test_reorg_across_failing_block_returns_to_old_chain(funded, tmp_path):
    fork = funded.tip.hash
    mine(funded)
    a_tip = mine(funded)
    b1 = make_child(funded, parent_hash=fork, extra=b"branch B")
    b2 = make_block(b1.hash, 3, b1.header.time + 60, coinbase=make_coinbase(3, ALICE.pubkey, 1))  # bad-cb-amount
    b3 = make_block(b2.hash, 4, b2.header.time + 60)
    for block in (b1, b2):
        assert funded.accept_block(block, NOW).status == "side-branch"
    before = dump_all(funded)
    funded.accept_block(b3, NOW)  # tries B, fails at b2, goes back to A
    assert funded.tip.hash == a_tip.hash
    assert funded.index[b2.hash].failure == "bad-cb-amount"
    assert dump_all(funded) == before
    with pytest.raises(HashgradError) as info:
        funded.accept_block(make_block(b3.hash, 5, b3.header.time + 60), NOW)
    assert info.value.reason == "bad-prevblk"
    with pytest.raises(HashgradError) as info:
        funded.accept_block(b2, NOW)
    assert info.value.reason == "duplicate-invalid"


def test_invalid_bad_fork_too_deep(tmp_path):
    chainstate = ChainState(with_params(max_reorg_depth=3), tmp_path / "shallow")
    try:
        genesis = chainstate.tip
        for _ in range(4):
            mine(chainstate)
        branch = []
        parent_hash, time = genesis.hash, genesis.time + 1
        for height in range(1, 6):
            block = make_block(parent_hash, height, time, extra=b"fork")
            branch.append(block)
            parent_hash, time = block.hash, time + 60
        for block in branch[:-1]:
            chainstate.accept_block(block, NOW)
        with pytest.raises(HashgradError) as info:
            chainstate.accept_block(branch[-1], NOW)
        assert info.value.reason == "bad-fork-too-deep"
        assert chainstate.height == 4 and chainstate.tip.hash != branch[3].hash
    finally:
        chainstate.close()


def test_orphans_connect_when_parent_arrives(funded):
    b2 = make_child(funded)
    b3 = make_block(b2.hash, 3, b2.header.time + 60)
    b4 = make_block(b3.hash, 4, b3.header.time + 60)
    assert funded.accept_block(b4, NOW).status == "orphan"
    assert funded.accept_block(b3, NOW).status == "orphan"
    result = funded.accept_block(b2, NOW)
    assert [b.hash for b in result.connected] == [b2.hash, b3.hash, b4.hash]
    assert funded.tip.hash == b4.hash and not funded.orphans


def test_supply_audit_balanced_after_every_block(tmp_path):
    ledger = Ledger(PARAMS, tmp_path / "audit", clock=lambda: NOW)
    rng = random.Random(7)
    try:
        for height in range(1, 25):
            state = dump_state(ledger.chainstate)
            balances = [(k, get_account(state, k.pubkey)) for k in KEYS]
            txs = tuple(
                make_transfer(k, a.nonce, rng.choice(KEYS).pubkey, rng.randint(1, a.balance - FEE))
                for k, a in balances
                if a.balance > 2 * FEE
            )
            ledger.submit_block(make_child(ledger.chainstate, txs, payout=rng.choice(KEYS).pubkey))
            audit = ledger.compute_supply_audit()
            assert audit.is_balanced, audit.to_json()
            assert audit.issued == PARAMS.initial_subsidy * height  # before the first halving
        assert audit.in_pools > 0 and audit.in_accounts > 0
    finally:
        ledger.close()
