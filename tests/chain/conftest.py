"""Fixtures for the consensus-primitive tests: the real Bitcoin data of tests/data, loaded once."""
from __future__ import annotations

import pytest
from data_files import read_data, read_json

from hashgrad.chain.header import BlockHeader, iter_headers


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
