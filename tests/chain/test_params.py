"""Network parameters: Bitcoin's genesis blocks rebuilt from their fields, Core's chainparams sanity
checks, and hashgrad's networks."""

from __future__ import annotations

import pytest

from hashgrad.chain.header import BlockHeader
from hashgrad.chain.params import BITCOIN_NETWORKS, BTC_MAIN, BTC_REGTEST, BTC_TEST, NETWORKS, get_network
from hashgrad.chain.pow import encode_compact, is_valid_proof_of_work
from hashgrad.errors import HashgradError

GENESIS_MERKLE = bytes.fromhex("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b")[::-1]


@pytest.mark.parametrize(
    "params, time, bits, nonce",
    [
        (BTC_MAIN, 1231006505, 0x1D00FFFF, 2083236893),
        (BTC_TEST, 1296688602, 0x1D00FFFF, 414098458),
        (BTC_REGTEST, 1296688602, 0x207FFFFF, 2),
    ],
)
def test_bitcoin_genesis(params, time, bits, nonce):
    genesis = BlockHeader(1, b"\x00" * 32, GENESIS_MERKLE, time, bits, nonce)
    assert genesis.hash_hex == params.genesis_hash_hex
    assert encode_compact(params.pow.pow_limit) == bits
    assert is_valid_proof_of_work(genesis.hash, bits, params.pow.pow_limit)


def test_bitcoin_networks():
    assert set(BITCOIN_NETWORKS) == {"main", "test", "regtest"}
    assert (BTC_MAIN.bip34_height, BTC_MAIN.bip66_height, BTC_MAIN.bip65_height) == (227_931, 363_725, 388_381)
    assert (BTC_TEST.bip34_height, BTC_TEST.bip66_height, BTC_TEST.bip65_height) == (21_111, 330_776, 581_885)
    assert BTC_TEST.pow.allow_min_difficulty_blocks and not BTC_MAIN.pow.allow_min_difficulty_blocks
    assert BTC_REGTEST.pow.no_retargeting and BTC_REGTEST.subsidy_halving_interval == 150


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_hashgrad_network_sanity(name):
    params = get_network(name)
    pow = params.pow
    assert params.genesis_bits == encode_compact(pow.pow_limit)
    assert pow.target_timespan % pow.target_spacing == 0
    assert 0 <= params.block_maker_share_bps <= 10_000
    assert sum(bps for _, bps in params.job_shares_bps) == 10_000
    assert params.chain_id not in (1, 98, 4096)  # Namecoin, Dogecoin, Syscoin


@pytest.mark.parametrize("name", ["main", "test"])
def test_hashgrad_retarget_cannot_overflow_256_bits(name):
    """pow_tests.cpp sanity_check_chainparams: powLimit < 2^256 / (4 * timespan) on retargeting networks."""
    pow = get_network(name).pow
    assert not pow.no_retargeting
    assert pow.pow_limit < (1 << 256) // (4 * pow.target_timespan)


def test_hashgrad_networks_are_distinct():
    values = list(NETWORKS.values())
    for attr in ("magic", "hrp", "p2p_port", "rpc_port"):
        assert len({getattr(p, attr) for p in values}) == len(values), attr


def test_invalid_unknown_network():
    with pytest.raises(HashgradError) as err:
        get_network("nope")
    assert err.value.reason == "unknown-network"
