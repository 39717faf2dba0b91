"""The merge-mining RPCs' template cache (Namecoin's AuxpowMiner) over a real regtest ledger with a test clock:
the same block while tip and mempool hold, a new one after a tip change or (60 s on) a mempool change,
handed-out blocks remembered by hash (bounded) until the tip moves, and submission of pool proofs."""

from __future__ import annotations

import pytest

from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import HASHGRAD_REGTEST
from hashgrad.chain.pow import compute_target
from hashgrad.chain.tx import make_transfer
from hashgrad.errors import RpcError
from hashgrad.node.ledger import Ledger
from hashgrad.node.rpc_auxpow import (
    MEMPOOL_REFRESH_S,
    AuxBlockCache,
    aux_template_to_json,
    get_aux_template,
    submit_aux_block,
)
from support.auxpow import build_pool_auxpow

PARAMS = HASHGRAD_REGTEST
START = PARAMS.genesis_time + 1_000_000
ALICE = SigningKey(b"\x01" * 32)
PAYOUT_A, PAYOUT_B, PAYOUT_C = (SigningKey(bytes([n]) * 32).pubkey for n in (10, 11, 12))


class TestClock:
    __test__ = False

    def __init__(self):
        self.now = START

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def ledger(tmp_path):
    clock = TestClock()
    ledger = Ledger(PARAMS, tmp_path / "chain", clock=clock)
    ledger.generate(1, ALICE.pubkey)
    yield ledger
    ledger.close()


def current(ledger, cache, payout=PAYOUT_A):
    return get_aux_template(ledger, PARAMS, cache, payout)


def test_get_aux_template_fields_and_auxpow_flag(ledger):
    made = current(ledger, AuxBlockCache())
    header = made.block.header
    assert header.is_auxpow() and header.chain_id == PARAMS.chain_id
    assert header.prev_hash == ledger.chainstate.tip.hash and made.height == 2
    assert made.coinbase_value == ledger.build_template().coinbase_value
    view = aux_template_to_json(PARAMS, made)
    assert view["hash"] == header.hash_hex and view["bits"] == "207fffff" and view["chainid"] == 4242
    assert int.from_bytes(bytes.fromhex(view["_target"]), "little") == compute_target(header.bits, PARAMS.pow.pow_limit)


def test_get_aux_template_cached_per_payout(ledger):
    cache = AuxBlockCache()
    first = current(ledger, cache)
    assert current(ledger, cache) is first
    other = current(ledger, cache, PAYOUT_B)
    assert other.hash != first.hash
    assert cache.lookup(first.hash) is first and cache.lookup(other.hash) is other


def test_get_aux_template_mempool_change_after_refresh_interval(ledger):
    cache = AuxBlockCache()
    first = current(ledger, cache)
    tx = make_transfer(ALICE, PARAMS.magic, 0, PAYOUT_B, 1_000, 2_000)
    ledger.submit_transaction(tx)
    ledger.clock.now += MEMPOOL_REFRESH_S - 1
    assert current(ledger, cache) is first  # Namecoin waits a minute before following the mempool
    ledger.clock.now += 1
    fresh = current(ledger, cache)
    assert fresh.hash != first.hash and fresh.block.txs[1:] == (tx,)
    assert fresh.coinbase_value == first.coinbase_value + 2_000
    assert cache.lookup(first.hash) is first  # a share on the older block can still be submitted


def test_get_aux_template_unchanged_mempool_keeps_block(ledger):
    cache = AuxBlockCache()
    first = current(ledger, cache)
    ledger.clock.now += 10 * MEMPOOL_REFRESH_S
    assert current(ledger, cache) is first


def test_get_aux_template_new_tip_forgets_blocks(ledger):
    cache = AuxBlockCache()
    first = current(ledger, cache)
    ledger.generate(1, ALICE.pubkey)
    second = current(ledger, cache)
    assert second.block.header.prev_hash == ledger.chainstate.tip.hash and second.height == 3
    assert cache.lookup(first.hash) is None


def test_aux_block_cache_bounded(ledger):
    cache = AuxBlockCache(max_remembered=2)
    made = [current(ledger, cache, payout) for payout in (PAYOUT_A, PAYOUT_B, PAYOUT_C)]
    assert cache.lookup(made[0].hash) is None
    assert cache.lookup(made[1].hash) is made[1] and cache.lookup(made[2].hash) is made[2]


def test_submit_aux_block_pool_proof(ledger):
    cache = AuxBlockCache()
    made = current(ledger, cache)
    wrong_slot = build_pool_auxpow(made.block.header, {1: b"\x01" * 32, 98: b"\x62" * 32}, 5, 7, slot_of=4243)
    assert submit_aux_block(ledger, PARAMS, cache, made.hash, wrong_slot) is False
    assert ledger.chainstate.tip.hash == made.block.header.prev_hash
    proof = build_pool_auxpow(made.block.header, {1: b"\x01" * 32, 98: b"\x62" * 32}, 5, 7)
    assert submit_aux_block(ledger, PARAMS, cache, made.hash, proof) is True
    assert ledger.chainstate.tip.hash == made.hash
    assert ledger.chainstate.get_block(made.hash).auxpow == proof
    assert submit_aux_block(ledger, PARAMS, cache, made.hash, proof) is True  # duplicate
    assert submit_aux_block(ledger, PARAMS, cache, made.hash, wrong_slot) is False  # checked even when known


def test_invalid_submit_aux_block_unknown_hash(ledger):
    cache = AuxBlockCache()
    made = current(ledger, cache)
    with pytest.raises(RpcError) as info:
        submit_aux_block(ledger, PARAMS, cache, b"\x11" * 32, build_pool_auxpow(made.block.header))
    assert info.value.reason == "unknown-aux-block"
