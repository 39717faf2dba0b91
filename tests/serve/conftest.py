"""Shared fixtures for the inference tests: a small model trained briefly on real text.

A context of 64 bytes, 2 layers, width 32: a few dozen AdamW steps on a slice of the Python
stdlib (`email/`) give it peaked, non-uniform predictions, so greedy and sampled completions mean
something. `older` is the same run stopped earlier: what a stale server would serve.
"""

from __future__ import annotations

import pytest

from hashgrad.serve.engine import Engine
from hashgrad.work.centralized import compute_centralized_training
from hashgrad.work.data import build_dataset, get_stdlib_dir
from hashgrad.work.miner import set_determinism_pins
from hashgrad.work.model import Checkpoint, GPTConfig, checkpoint_hash, compute_initial_state
from hashgrad.work.params import get_preset

set_determinism_pins()

SERVE_MODEL = GPTConfig(block_size=64, n_layer=2, n_head=2, n_embd=32)
TRAIN_SEED = bytes(32)


@pytest.fixture(scope="session")
def serve_params():
    return get_preset("tiny", model=SERVE_MODEL, page_tokens=1040)


@pytest.fixture(scope="session")
def serve_dataset(serve_params):
    return build_dataset(get_stdlib_dir() / "email", serve_params.page_tokens)


@pytest.fixture(scope="session")
def older(serve_params, serve_dataset) -> Checkpoint:
    start = Checkpoint(SERVE_MODEL, compute_initial_state(SERVE_MODEL, 0))
    return compute_centralized_training(start, serve_dataset, serve_params, 40, 8, TRAIN_SEED)


@pytest.fixture(scope="session")
def current(serve_params, serve_dataset, older) -> Checkpoint:
    return compute_centralized_training(older, serve_dataset, serve_params, 10, 8, TRAIN_SEED)


@pytest.fixture(scope="session")
def fingerprint(current) -> bytes:
    return checkpoint_hash(current.to_bytes())


@pytest.fixture(scope="session")
def engine(current, fingerprint) -> Engine:
    return Engine(current, fingerprint)
