"""Unit tests of the incentive commands' offline parts: the metagraph table (plain and rich), the job
summary, and the reason codes of input refused before any node is contacted. (Reply validation is
tested with the node client, in tests/node/test_node_replies.py.)"""

from __future__ import annotations

import io
import sys

import pytest

from hashgrad.cli.job_cmd import format_job
from hashgrad.cli.main import main
from hashgrad.cli.metagraph_cmd import COLUMNS, format_plain_table, format_row, print_rich_table
from hashgrad.node.replies import parse_job, parse_neuron
from support.replies import SAMPLE_JOB, SAMPLE_NEURON

ROW = {**SAMPLE_NEURON, "uid": 3}
JOB = {**SAMPLE_JOB, "last_epoch_processed": 0, "checkpoint": None}


def test_metagraph_row_and_plain_table():
    row = format_row(parse_neuron(ROW, 3))
    assert row == [
        "3",
        "rhg1q3ls4...s2tx",
        "rhg1qdnf0...phch",
        "9.50000000",
        "yes",
        "0.25000",
        "0.50000",
        "1.00000",
        "0.00000",
        "0.00000123",
        "0.00000456",
        "60",
        "6",
    ]
    lines = format_plain_table(
        [row, format_row(parse_neuron({**ROW, "uid": 12, "validator_permit": False}, 12))]
    ).splitlines()
    assert lines[0].split() == [
        "UID",
        "HOTKEY",
        "COLDKEY",
        "STAKE",
        "VPERMIT",
        "CONSENSUS",
        "INCENTIVE",
        "DIVIDENDS",
        "TRUST",
        "EMISSION",
        "TOTAL",
        "EARNED",
        "LAST",
        "UPDATE",
        "REG",
        "HEIGHT",
    ]
    assert lines[1].startswith("  3  rhg1q3ls4...s2tx  ") and lines[2].startswith(" 12  ")
    assert len({len(line) for line in lines}) == 1  # aligned


def test_metagraph_plain_table_without_uids():
    assert format_plain_table([]).split() == " ".join(COLUMNS).upper().split()


def test_metagraph_rich_table(capsys):
    print_rich_table("job 0 at height 60: 1 uids", [format_row(parse_neuron(ROW, 3))])
    out = capsys.readouterr().out
    for text in ("job 0 at height 60", "total earned", "rhg1q3ls4...s2tx", "9.50000000", "0.00000456"):
        assert text in out


def test_job_summary():
    text = format_job(parse_job(JOB, 0))
    assert "work commit [0, 14), work reveal [14, 18), weights commit [18, 26), weights reveal [26, 30)" in text
    assert "burn           0.10000000" in text and "epoch 1, offset 5, phase commit-work" in text
    assert "none recorded" in text
    with_checkpoint = format_job(parse_job({**JOB, "checkpoint": {"epoch": 0, "hash": "ff" * 32, "height": 20}}, 0))
    assert f"{'ff' * 32} (epoch 0, height 20)" in with_checkpoint


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HASHGRAD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HASHGRAD_PASSWORD", "pw")
    monkeypatch.setenv("HASHGRAD_WALLET_SCRYPT_N", "1024")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def run(*args: str) -> str:
        capsys.readouterr()
        rc = main(list(args))
        err = capsys.readouterr().err
        assert rc == 1 and err.startswith("error: "), err
        return err.split(": ")[1].strip()

    return run


def test_input_refused_before_the_node_is_contacted(cli, tmp_path):
    node = ("--datadir", str(tmp_path / "no-node"), "--rpcport", "1")
    assert main(["wallet", "create", "w"]) == 0 and main(["wallet", "hotkey", "new", "w", "h"]) == 0
    assert cli("weights", "commit", "w", "h", "--job", "0", "--weights", "1:x", *node) == "bad-weights"
    assert cli("weights", "commit", "w", "nope", "--job", "0", "--weights", "1:1", *node) == "unknown-hotkey"
    assert cli("weights", "reveal", "w", "h", "--job", "70000", *node) == "bad-job"
    assert cli("weights", "reveal", "w", "h", "--job", "0", "--epoch", "-1", *node) == "bad-epoch"
    assert cli("stake", "add", "w", "h", "1.000000001", *node) == "bad-amount"
    assert cli("stake", "remove", "w", "h", "0", *node) == "bad-amount"
    assert cli("wallet", "register", "w", "h", "--job", "0", "--max-burn", "-1", *node) == "bad-max-burn"
    assert cli("metagraph", "-1", *node) == "bad-job"
    assert cli("job", "65536", *node) == "bad-job"
    assert cli("stake", "add", "missing", "h", "1", *node) == "unknown-wallet"
    assert cli("stake", "add", "w", "h", "1", "--network", "devnet", *node) == "network-mismatch"
    assert cli("stake", "add", "w", "h", "1", *node) == "node-unreachable"
    assert cli("metagraph", "0", *node) == "node-unreachable"
