"""Shared pytest fixtures for the whole suite.

The real public test data lives in `tests/data/` (its README names the source of every file); the
helpers in `tests/data_files.py` read it, decompressing the files that are stored gzip-compressed.
Shared helpers live in `tests/support/`; the ledger fixtures below serve the chain, store and node tests.
"""

from __future__ import annotations

import pytest

from hashgrad.store.chainstate import ChainState
from support.ledger import ALICE, PARAMS, mine


@pytest.fixture
def chainstate(tmp_path):
    """A fresh regtest chainstate in a temporary datadir."""
    state = ChainState(PARAMS, tmp_path / "chain")
    yield state
    state.close()


@pytest.fixture
def funded(chainstate):
    """Height 1, with ALICE holding block 1's maker reward (9 coins on regtest)."""
    mine(chainstate, payout=ALICE.pubkey)
    return chainstate
