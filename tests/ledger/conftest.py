"""Fixtures for the ledger tests: a fresh regtest chainstate in a temporary datadir, and one whose
block 1 paid the block maker's reward to ALICE so tests can spend it."""
from __future__ import annotations

import pytest

from hashgrad.store.chainstate import ChainState
from ledger.helpers import ALICE, PARAMS, mine


@pytest.fixture
def chainstate(tmp_path):
    state = ChainState(PARAMS, tmp_path / "chain")
    yield state
    state.close()


@pytest.fixture
def funded(chainstate):
    """Height 1, with ALICE holding block 1's maker reward (9 coins on regtest)."""
    mine(chainstate, payout=ALICE.pubkey)
    return chainstate
