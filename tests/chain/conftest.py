"""Fixtures of the chain tests: the real Bitcoin data of tests/data, loaded once; a fresh regtest network
and a team on job 0 (three miners and one staked validator, registered before epoch 1 so every
coordination test can start with a whole epoch)."""

from __future__ import annotations

import pytest

from data_files import read_data, read_json
from hashgrad.chain.header import BlockHeader, iter_headers
from support.coordination import COIN, Member, Net


@pytest.fixture(scope="session")
def load_json():
    return read_json


@pytest.fixture(scope="session")
def mainnet_headers() -> list[BlockHeader]:
    """Mainnet headers 0..9999."""
    return list(iter_headers(read_data("btc_mainnet_headers_000000_009999.bin")))


@pytest.fixture(scope="session")
def recent_headers() -> list[BlockHeader]:
    """Mainnet headers 822528..830592 (index i is height 822528 + i)."""
    return list(iter_headers(read_data("btc_mainnet_headers_822528_830592.bin")))


@pytest.fixture(scope="session")
def testnet_headers() -> list[BlockHeader]:
    """Testnet3 headers 0..9999."""
    return list(iter_headers(read_data("btc_testnet3_headers_000000_009999.bin")))


@pytest.fixture(scope="session")
def boundary_headers(load_json) -> dict[int, dict]:
    """Mainnet headers at 0 and k*2016-1, k*2016 (k = 1..413) by height, with chainwork as an int."""
    out = {}
    for entry in load_json("btc_mainnet_retarget_boundaries.json")["headers"]:
        header = BlockHeader.deserialize(bytes.fromhex(entry["header"]))
        out[entry["height"]] = {"header": header, "hash": entry["hash"], "chainwork": int(entry["chainwork"], 16)}
    return out


@pytest.fixture(scope="session")
def block_413567() -> bytes:
    return read_data("btc_block_413567.raw")


@pytest.fixture(scope="session")
def block_830000() -> bytes:
    return read_data("btc_block_830000.bin")


@pytest.fixture(scope="session")
def parsed_413567(block_413567):
    from hashgrad.chain.btc_tx import parse_bitcoin_block

    return parse_bitcoin_block(block_413567)


@pytest.fixture(scope="session")
def parsed_830000(block_830000):
    from hashgrad.chain.btc_tx import parse_bitcoin_block

    return parse_bitcoin_block(block_830000)


VALIDATOR_STAKE = 10 * COIN


@pytest.fixture
def net(tmp_path):
    network = Net.create(tmp_path / "chain")
    yield network
    network.close()


@pytest.fixture
def team(net):
    """(net, miners, validator): registered and staked in epoch 0; the tip is still inside epoch 0."""
    miners = [Member.named(f"miner{i}") for i in range(3)]
    validator = Member.named("validator")
    net.join([*miners, validator], stakes={"validator": VALIDATOR_STAKE})
    return net, miners, validator
