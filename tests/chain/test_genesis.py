"""Genesis blocks: every network's genesis meets its own proof of work and opens a chainstate;
networks are told apart by their genesis."""

from __future__ import annotations

import pytest

from hashgrad.chain.genesis import build_genesis_block, compute_block_version
from hashgrad.chain.hashes import ZERO_HASH
from hashgrad.chain.params import NETWORKS
from hashgrad.chain.pow import compute_target, encode_compact, is_valid_proof_of_work
from hashgrad.chain.state import get_supply
from hashgrad.chain.tx import decode_payload
from hashgrad.errors import StoreError
from hashgrad.store.chainstate import ChainState

MAX_HINT_TRIES = 1 << 24


def find_nonce(header, pow_limit: int) -> int | None:
    """The first nonce that meets the header's bits (for the failure message only)."""
    target = compute_target(header.bits, pow_limit)
    for nonce in range(MAX_HINT_TRIES):
        if int.from_bytes(header.with_nonce(nonce).hash, "little") <= target:
            return nonce
    return None


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_build_genesis_block_meets_own_proof_of_work(name):
    params = NETWORKS[name]
    genesis = build_genesis_block(params)
    if not is_valid_proof_of_work(genesis.hash, genesis.header.bits, params.pow.pow_limit):
        hint = find_nonce(genesis.header, params.pow.pow_limit)
        pytest.fail(
            f"the {name} genesis (nonce {params.genesis_nonce}) no longer meets its proof of work: the "
            f"genesis message, time, bits or jobs changed, so regrind the nonce in "
            f"hashgrad/chain/params.py (genesis_nonce={hint} for {name}; "
            f"`.venv/bin/python tools/grind_genesis.py` rewrites every network's)"
        )


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_build_genesis_block_fields(name):
    params = NETWORKS[name]
    genesis = build_genesis_block(params)
    header = genesis.header
    assert header.prev_hash == ZERO_HASH and header.time == params.genesis_time
    assert header.version == compute_block_version(params) and header.chain_id == params.chain_id
    assert header.bits == params.genesis_bits == encode_compact(params.pow.pow_limit)
    assert genesis.compute_merkle_root() == (header.merkle_root, False)
    assert len(genesis.txs) == 1 and genesis.txs[0].is_coinbase() and genesis.txs[0].nonce == 0
    assert decode_payload(genesis.txs[0]).amount == 0  # the genesis issues nothing


def test_genesis_hashes_differ_between_networks():
    hashes = {build_genesis_block(params).hash for params in NETWORKS.values()}
    assert len(hashes) == len(NETWORKS)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_chainstate_opens_at_genesis(name, tmp_path):
    params = NETWORKS[name]
    chainstate = ChainState(params, tmp_path / name)
    try:
        assert chainstate.height == 0 and chainstate.tip.hash == build_genesis_block(params).hash
        assert get_supply(chainstate).issued == 0
    finally:
        chainstate.close()


def test_invalid_wrong_network(tmp_path):
    ChainState(NETWORKS["regtest"], tmp_path / "chain").close()
    with pytest.raises(StoreError) as info:
        ChainState(NETWORKS["main"], tmp_path / "chain")
    assert info.value.reason == "wrong-network"
