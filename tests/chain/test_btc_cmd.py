"""`hashgrad btc verify-headers|verify-block` as a user runs it: a subprocess, the exit code, the JSON
last line and a clean error (never a traceback) on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from data_files import data_path, read_data
from hashgrad.chain.encoding import encode_compact_size
from hashgrad.chain.header import HEADER_SIZE

REPO = Path(__file__).resolve().parents[2]


def run_btc(*args) -> tuple[int, dict | None, str]:
    """(exit code, JSON of the last stdout line or None, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "hashgrad", "btc", *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    lines = proc.stdout.strip().splitlines()
    last = json.loads(lines[-1]) if lines else None
    return proc.returncode, last, proc.stderr


def test_verify_headers_mainnet():
    code, last, stderr = run_btc("verify-headers", data_path("btc_mainnet_headers_000000_009999.bin"))
    assert code == 0, stderr
    assert last == {
        "height": 9999,
        "tip": "00000000fbc97cc6c599ce9c24dd4a2243e2bfd518eda56e1d5e47d29e29c3a7",
        "chainwork": hex(10_000 * 0x100010001),
    }


def test_verify_headers_testnet_and_checkpoint():
    code, last, _ = run_btc("verify-headers", data_path("btc_testnet3_headers_000000_009999.bin"), "--network", "test")
    assert code == 0 and last["tip"] == "000000001655e2a7293f28383a2965b2f0add77fd6ac383986e90971a07467d4"
    code, last, _ = run_btc(
        "verify-headers", data_path("btc_mainnet_headers_822528_830592.bin"), "--start-height", 822528
    )
    assert code == 0 and (last["height"], last["tip"]) == (
        830592,
        "00000000000000000000506183a8b30fa3224b85e82a70416e1d594bdb632fdb",
    )


def test_invalid_verify_headers_high_hash(tmp_path):
    raw = bytearray(read_data("btc_mainnet_headers_000000_009999.bin"))
    raw[5000 * HEADER_SIZE + 76] ^= 1  # the nonce of header 5000
    path = tmp_path / "mutated.bin"
    path.write_bytes(bytes(raw))
    code, last, stderr = run_btc("verify-headers", path)
    assert code == 1 and last == {"height": 5000, "reason": "high-hash"}, stderr


@pytest.mark.parametrize("size", [0, 79, 161])
def test_invalid_verify_headers_bad_length(tmp_path, size):
    path = tmp_path / "short.bin"
    path.write_bytes(read_data("btc_mainnet_headers_000000_009999.bin")[:size])
    code, last, stderr = run_btc("verify-headers", path)
    assert code == 1 and last is None
    assert stderr.startswith("error: bad-header-length") and "Traceback" not in stderr


def test_invalid_verify_headers_arguments(tmp_path):
    code, _, stderr = run_btc("verify-headers", tmp_path / "missing.bin")
    assert code == 1 and stderr.startswith("error: file-unreadable") and "Traceback" not in stderr
    path = tmp_path / "one.bin"
    path.write_bytes(b"\x00" * HEADER_SIZE)
    code, _, stderr = run_btc("verify-headers", path, "--start-height", -1)
    assert code == 1 and stderr.startswith("error: bad-start-height")


def test_verify_block():
    code, last, stderr = run_btc("verify-block", data_path("btc_block_830000.bin"))
    assert code == 0, stderr
    assert last == {
        "hash": "000000000000000000011d55599ed27d7efca05f5849b755319c89eb2cffbc1f",
        "txs": 1851,
        "merkle_root": "8a56cfd4c2776e3e4720fd2e50aefb4d51f07a45662e1aea17b0c91afdb2ad70",
    }
    code, last, _ = run_btc("verify-block", data_path("btc_block_413567.raw"))
    assert code == 0 and (last["txs"], last["merkle_root"]) == (
        1557,
        "64a50c649fc816baaa2effda230c39cacf1504e4e616a2863685b72aaa7dce05",
    )


def test_invalid_verify_block(parsed_413567, block_413567, tmp_path):
    txs = parsed_413567.txs + parsed_413567.txs[-1:]
    duplicated = parsed_413567.header.serialize() + encode_compact_size(len(txs)) + b"".join(t.serialize() for t in txs)
    cases = {"duplicated.raw": (duplicated, "bad-txns-duplicate"), "truncated.raw": (block_413567[:-7], "bad-encoding")}
    for name, (raw, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(raw)
        code, last, stderr = run_btc("verify-block", path)
        assert code == 1 and last["reason"] == reason and "Traceback" not in stderr, name
