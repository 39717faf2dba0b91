"""Fixtures for the incentive-layer tests: a fresh regtest network, and a team on job 0 (three miners
and one staked validator, registered before epoch 1 so every test can start with a whole epoch)."""
from __future__ import annotations

import pytest

from chain_incentive.helpers import COIN, Member, Net

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
