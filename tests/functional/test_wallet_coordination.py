"""Functional test of the incentive commands against a real regtest node process on loopback.

One wallet registers two hotkeys on job 0 (`hashgrad wallet register`), stakes on one of them
(`hashgrad stake add`), and the chain is mined through epoch 1 (regtest job 0: tempo 30, windows at
offsets 14/18/26; epoch 1 covers heights 31..60): the miner hotkey commits and reveals work (a
transaction the miner role sends; here through the library), the validator hotkey commits and
reveals its weights with `hashgrad weights commit|reveal`, and after the epoch's last block
`hashgrad metagraph 0 --json` shows the validator's dividends and the miner's incentive. Refusals
along the way: a second registration, removing more stake than is held, a weights commit outside
its window (its salt file is removed), and a reveal from a salt file with the wrong salt.

Commands run in-process through `hashgrad.cli.main.main` (the node is a separate process), which
keeps the test at a few seconds.
"""

from __future__ import annotations

import io
import json
import logging
import stat
import sys

import pytest

from functional.framework import TestNode
from hashgrad.chain.coordination_make import make_commit_work, make_reveal_work
from hashgrad.chain.params import COIN
from hashgrad.cli.main import main
from hashgrad.wallet.files import get_home
from hashgrad.wallet.wallet import load_wallet, unseal_key
from hashgrad.wallet.weights import get_default_salt_path

pytestmark = pytest.mark.functional
log = logging.getLogger("incentive_cli_functional")

PASSWORD = "incentive cli password"
TEMPO = 30
EPOCH = 1


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    """cli("stake", "add", ...) -> (exit code, stdout, stderr) of one in-process `hashgrad` command."""
    monkeypatch.setenv("HASHGRAD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HASHGRAD_PASSWORD", PASSWORD)
    monkeypatch.setenv("HASHGRAD_WALLET_SCRYPT_N", "1024")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main(list(args))
        out, err = capsys.readouterr()
        return rc, out, err

    return run


@pytest.fixture
def node(tmp_path):
    made = TestNode(0, tmp_path)
    made.start()
    try:
        yield made
    finally:
        made.cleanup()


def _ok(result: tuple[int, str, str]) -> str:
    rc, out, err = result
    assert rc == 0, err
    return out


def _reason(result: tuple[int, str, str]) -> str:
    rc, out, err = result
    assert rc == 1, out
    assert err.startswith("error: "), err
    return err.split(": ")[1].strip()


def _txid(out: str) -> str:
    txid = out.splitlines()[-1]
    assert len(txid) == 64 and all(c in "0123456789abcdef" for c in txid), out
    return txid


def test_register_stake_and_set_weights_through_an_epoch(cli, node):
    on_node = ("--datadir", str(node.datadir), "--rpcport", str(node.rpc_port))
    coldkey = _ok(cli("wallet", "create", "owner")).splitlines()[-1]
    validator = _ok(cli("wallet", "hotkey", "new", "owner", "val")).splitlines()[-1]
    miner = _ok(cli("wallet", "hotkey", "new", "owner", "miner")).splitlines()[-1]

    def mine_until(height: int) -> None:
        node.generate(height - node.getblockcount(), coldkey)
        assert node.getblockcount() == height

    log.info("fund the coldkey, and both hotkeys for their fees")
    mine_until(5)
    for hotkey in (validator, miner):
        _txid(_ok(cli("wallet", "send", "owner", hotkey, "1", *on_node)))

    log.info("register both hotkeys; the coldkey pays the burn")
    burn = node.getjob(0)["burn"]
    assert (
        _reason(cli("wallet", "register", "owner", "val", "--job", "0", "--max-burn", "0.001", *on_node))
        == "burn-too-high"
    )
    for name in ("val", "miner"):
        out = _ok(cli("wallet", "register", "owner", name, "--job", "0", *on_node))
        assert node.getrawmempool().count(_txid(out)) == 1
    # not mined yet, so the wallet's check passes: the node's mempool refuses the duplicate
    assert _reason(cli("wallet", "register", "owner", "val", "--job", "0", *on_node)) == "hotkey-already-registered"
    mine_until(6)
    metagraph = node.getmetagraph(0)["uids"]
    assert [(u["uid"], u["address"], u["coldkey"]) for u in metagraph] == [(0, validator, coldkey), (1, miner, coldkey)]
    assert node.getsupply()["burned"] == 2 * burn
    assert _reason(cli("wallet", "register", "owner", "val", "--job", "0", *on_node)) == "hotkey-already-registered"
    assert _reason(cli("wallet", "register", "owner", "nobody", "--job", "0", *on_node)) == "unknown-hotkey"

    log.info("stake 10 on the validator hotkey; removing more than that is refused")
    _txid(_ok(cli("stake", "add", "owner", "val", "10", *on_node)))
    mine_until(7)
    assert node.getaccount(validator)["stake"] == 10 * COIN
    assert _reason(cli("stake", "remove", "owner", "val", "10.00000001", *on_node)) == "insufficient-stake"
    assert _reason(cli("stake", "add", "owner", "val", "100000", *on_node)) == "insufficient-funds"
    _txid(_ok(cli("stake", "remove", "owner", "val", "0.5", *on_node)))
    mine_until(TEMPO)
    assert node.getaccount(validator)["stake"] == 950_000_000

    log.info("a weights commit outside its window is refused, and its salt file removed")
    salt_path = get_default_salt_path(get_home(), 0, EPOCH, load_wallet(get_home(), "owner").get_entry("val").pubkey)
    commit = ("weights", "commit", "owner", "val", "--job", "0", "--weights", "0:0.25,1:1.0", *on_node)
    assert _reason(cli(*commit)) == "weights-commit-window-closed"
    assert not salt_path.exists()
    assert _reason(cli(*commit[:-5], "5:1", *on_node)) == "bad-weights"  # uid 5 is not registered
    assert _reason(cli("weights", "commit", "owner", "miner", *commit[4:])) == "no-validator-stake"

    log.info("epoch 1: the miner commits (offset 0) and reveals (offset 14) its work")
    miner_key = unseal_key(load_wallet(get_home(), "owner"), PASSWORD, "miner")
    artifact, base = b"\xa1" * 32, b"\xb2" * 32
    for build, height in ((make_commit_work, EPOCH * TEMPO), (make_reveal_work, EPOCH * TEMPO + 14)):
        mine_until(height)
        nonce = node.getaccount(miner)["pending_nonce"]
        node.sendrawtransaction(build(miner_key, node.params.magic, nonce, 0, EPOCH, artifact, base).serialize().hex())
    mine_until(EPOCH * TEMPO + 18)
    assert node.getepoch(0, EPOCH)["work_reveals"][0]["uid"] == 1

    log.info("offset 18: the validator commits its weights; the salt file is private")
    out = _ok(cli(*commit))
    assert "0:16384,1:65535" in out and f"salt file: {salt_path}" in out
    assert stat.S_IMODE(salt_path.stat().st_mode) == 0o600
    assert json.loads(salt_path.read_text())["weights"] == [[0, 16384], [1, 65535]]
    assert _reason(cli(*commit)) == "salt-file-exists"
    mine_until(EPOCH * TEMPO + 26)
    assert node.getepoch(0, EPOCH)["weight_commits"] == [{"uid": 0}]

    log.info("offset 26: a reveal from a salt file with another salt is refused; the right one is accepted")
    wrong = salt_path.parent / "wrong.json"
    wrong.write_text(json.dumps({**json.loads(salt_path.read_text()), "salt": "00" * 32}))
    reveal = ("weights", "reveal", "owner", "val", "--job", "0", *on_node)
    assert _reason(cli(*reveal, "--salt-file", str(wrong))) == "weights-reveal-mismatch"
    assert _reason(cli(*reveal, "--epoch", "0")) == "no-salt-file"
    out = _ok(cli(*reveal))
    assert "revealed weights 0:16384,1:65535 for job 0 epoch 1" in out
    _txid(out)

    log.info("the epoch's last block pays the miner's incentive and the validator's dividends")
    mine_until((EPOCH + 1) * TEMPO)
    result = json.loads(_ok(cli("metagraph", "0", "--json", *on_node)))
    by_uid = {u["uid"]: u for u in result["uids"]}
    assert by_uid[0]["validator_permit"] and by_uid[0]["dividends"] > 0 and by_uid[0]["epoch"] == EPOCH
    assert by_uid[1]["incentive"] > 0 and by_uid[1]["emission"] > 0 and not by_uid[1]["validator_permit"]
    assert node.getepoch(0, EPOCH)["weight_reveals"] == [{"uid": 0, "weights": [[0, 16384], [1, 65535]]}]

    table = _ok(cli("metagraph", "0", *on_node)).splitlines()
    assert table[0] == f"job 0 at height {(EPOCH + 1) * TEMPO}: 2 uids"
    assert table[1].split()[:5] == ["UID", "HOTKEY", "COLDKEY", "STAKE", "VPERMIT"]
    assert table[2].split()[0] == "0" and table[2].split()[3] == "9.50000000" and table[2].split()[4] == "yes"
    job = _ok(cli("job", "0", *on_node))
    assert "train-default-model" in job and "uids           2 of 64" in job
