"""Shared pytest fixtures for the whole suite.

`vectors_dir` is the real public test data in the `shared/vectors` folder that sits beside the repo
root (see its README.md for the source of every file); tests that need it skip when it is absent.
"""
from __future__ import annotations

from pathlib import Path

import pytest

VECTORS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    if not VECTORS_DIR.is_dir():
        pytest.skip(f"test vectors not found at {VECTORS_DIR} (the shared/vectors folder beside the repo root)")
    return VECTORS_DIR
