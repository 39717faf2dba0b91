"""Shared fixtures for the useful-work tests: a tiny model on a slice of the Python stdlib.

Everything is built once per session (the corpus slice is `email/`, ~380 KB of real source) and
torch runs on one thread with deterministic algorithms, as miners and validators do.
"""

from __future__ import annotations

import pytest

from hashgrad.work.data import build_dataset, get_stdlib_dir
from hashgrad.work.miner import set_determinism_pins
from hashgrad.work.model import Checkpoint, checkpoint_hash, compute_initial_state
from hashgrad.work.params import get_preset

set_determinism_pins()

CORPUS_SUBDIR = "email"


@pytest.fixture(scope="session")
def params():
    return get_preset("tiny")


@pytest.fixture(scope="session")
def dataset(params):
    return build_dataset(get_stdlib_dir() / CORPUS_SUBDIR, params.page_tokens)


@pytest.fixture(scope="session")
def checkpoint(params):
    return Checkpoint(params.model, compute_initial_state(params.model, 0))


@pytest.fixture(scope="session")
def base_hash(checkpoint):
    return checkpoint_hash(checkpoint.to_bytes())
