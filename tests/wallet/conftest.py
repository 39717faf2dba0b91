"""Fixtures for the wallet tests: a private HASHGRAD_HOME, a cheap (test-only) scrypt cost, and a
helper that runs `hashgrad wallet ...` in-process and returns (exit code, stdout, stderr)."""

from __future__ import annotations

import io
import sys

import pytest

from hashgrad.cli.main import main
from hashgrad.wallet.keystore import KdfParams

PASSWORD = "correct horse battery staple"
TEST_KDF = KdfParams(n=2**10)


@pytest.fixture
def wallet_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HASHGRAD_HOME", str(home))
    monkeypatch.setenv("HASHGRAD_WALLET_SCRYPT_N", str(TEST_KDF.n))
    monkeypatch.setenv("HASHGRAD_PASSWORD", PASSWORD)
    return home


@pytest.fixture
def wallet_password() -> str:
    return PASSWORD


@pytest.fixture
def run_wallet(wallet_home, capsys, monkeypatch):
    """run_wallet("create", "alice", stdin="...") -> (rc, stdout, stderr) of `hashgrad wallet ...`."""

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        rc = main(["wallet", *args])
        out, err = capsys.readouterr()
        return rc, out, err

    return run
