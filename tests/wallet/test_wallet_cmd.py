"""Tests for `hashgrad wallet ...` (hashgrad/cli/wallet_cmd.py): output contracts, reason codes, and
that no secret or password ever reaches stdout or stderr (except `export`, behind its flag)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.keys import SigningKey
from hashgrad.wallet import files
from hashgrad.wallet.wallet import load_wallet, unseal_key

REPO = Path(__file__).resolve().parents[2]
SECRET_HEX = "c0ffee" + "11" * 29


def _error_reason(rc: int, err: str) -> str:
    assert rc == 1, err
    assert err.startswith("error: "), err
    return err.split(": ")[1].strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_create_ends_with_the_address_alone(run_wallet, wallet_home):
    rc, out, err = run_wallet("create", "alice")
    assert rc == 0 and err == ""
    address = out.splitlines()[-1]
    wallet = load_wallet(wallet_home, "alice")
    assert address == wallet.get_address() and address.startswith("rhg1")
    rc, out, _ = run_wallet("address", "alice")
    assert rc == 0 and out.splitlines()[-1] == address
    assert stat_mode(files.get_wallet_path(wallet_home, "alice")) == 0o600


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_create_on_another_network_and_mismatch(run_wallet):
    rc, out, _ = run_wallet("create", "dev", "--network", "devnet")
    assert rc == 0 and out.splitlines()[-1].startswith("dhg1")
    assert _error_reason(*run_wallet("address", "dev", "--network", "regtest")[::2]) == "network-mismatch"
    assert _error_reason(*run_wallet("create", "x", "--network", "moon")[::2]) == "unknown-network"


def test_create_refuses_existing_and_unknown_names(run_wallet, wallet_home):
    run_wallet("create", "alice")
    before = files.get_wallet_path(wallet_home, "alice").read_bytes()
    assert _error_reason(*run_wallet("create", "alice")[::2]) == "wallet-exists"
    assert files.get_wallet_path(wallet_home, "alice").read_bytes() == before
    assert _error_reason(*run_wallet("address", "bob")[::2]) == "unknown-wallet"
    assert _error_reason(*run_wallet("create", "../bob")[::2]) == "bad-wallet-name"


def test_prompted_password_is_asked_twice(run_wallet, wallet_home, monkeypatch):
    monkeypatch.delenv("HASHGRAD_PASSWORD")
    answers = iter(["one", "two"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert _error_reason(*run_wallet("create", "alice")[::2]) == "password-mismatch"
    assert files.list_wallet_names(wallet_home) == []
    answers = iter(["same", "same"])
    rc, _, _ = run_wallet("create", "alice")
    assert rc == 0 and unseal_key(load_wallet(wallet_home, "alice"), "same")


def test_password_file_wins_over_environment(run_wallet, wallet_home, tmp_path):
    password_file = tmp_path / "pw.txt"
    password_file.write_text("from file\nignored second line\n")
    assert run_wallet("create", "alice", "--password-file", str(password_file))[0] == 0
    assert unseal_key(load_wallet(wallet_home, "alice"), "from file")
    assert (
        _error_reason(*run_wallet("create", "bob", "--password-file", str(tmp_path / "none"))[::2])
        == "bad-password-file"
    )


def test_import_reads_the_secret_from_stdin(run_wallet, wallet_home):
    rc, out, err = run_wallet("import", "imported", stdin=SECRET_HEX + "\n")
    assert rc == 0
    expected = encode_address("rhg", SigningKey(bytes.fromhex(SECRET_HEX)).pubkey)
    assert out.splitlines()[-1] == expected
    assert SECRET_HEX not in out + err
    rc, out, err = run_wallet("import", "bad", stdin="zz" + SECRET_HEX[2:])
    assert _error_reason(rc, err) == "bad-secret-key"
    assert SECRET_HEX[2:] not in out + err
    assert _error_reason(*run_wallet("import", "zero", stdin="00" * 32)[::2]) == "bad-secret-key"


def test_hotkeys(run_wallet, wallet_home):
    run_wallet("create", "alice")
    rc, out, _ = run_wallet("hotkey", "new", "alice", "miner1")
    assert rc == 0
    wallet = load_wallet(wallet_home, "alice")
    assert out.splitlines()[-1] == wallet.get_address("miner1") != wallet.get_address()
    assert run_wallet("address", "alice", "--hotkey", "miner1")[1].splitlines()[-1] == wallet.get_address("miner1")
    rc, out, _ = run_wallet("hotkey", "list", "alice")
    assert rc == 0 and "miner1" in out and wallet.get_address("miner1") in out
    assert _error_reason(*run_wallet("hotkey", "new", "alice", "miner1")[::2]) == "hotkey-exists"
    assert _error_reason(*run_wallet("address", "alice", "--hotkey", "nope")[::2]) == "unknown-hotkey"


def test_wrong_password(run_wallet, monkeypatch):
    run_wallet("create", "alice")
    monkeypatch.setenv("HASHGRAD_PASSWORD", "not it")
    assert _error_reason(*run_wallet("hotkey", "new", "alice", "m")[::2]) == "wrong-password"
    assert _error_reason(*run_wallet("export", "alice", "--i-know-what-i-am-doing")[::2]) == "wrong-password"


def test_list_shows_wallets_and_corrupt_ones(run_wallet, wallet_home):
    assert "no wallets" in run_wallet("list")[1]
    run_wallet("create", "alice")
    run_wallet("create", "dev", "--network", "devnet")
    files.get_wallet_path(wallet_home, "broken").write_text("{")
    rc, out, _ = run_wallet("list", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert rc == 0 and rows["alice"]["network"] == "regtest" and rows["dev"]["address"].startswith("dhg1")
    assert rows["broken"]["error"] == "corrupt-wallet"
    rc, out, _ = run_wallet("list")
    assert rc == 0 and "corrupt-wallet" in out and rows["alice"]["address"] in out


def test_export_needs_its_flag(run_wallet, wallet_home):
    run_wallet("import", "alice", stdin=SECRET_HEX)
    rc, out, err = run_wallet("export", "alice")
    assert _error_reason(rc, err) == "export-not-confirmed" and SECRET_HEX not in out + err
    rc, out, err = run_wallet("export", "alice", "--i-know-what-i-am-doing")
    assert rc == 0 and out.strip() == SECRET_HEX and "warning" in err


def test_send_checks_its_input_before_the_node(run_wallet, tmp_path):
    _, out, _ = run_wallet("create", "alice")
    to = out.splitlines()[-1]
    node = ["--datadir", str(tmp_path / "no-node")]
    assert _error_reason(*run_wallet("send", "alice", "rhg1nope", "1", *node)[::2]) == "bad-address"
    devnet_address = encode_address("dhg", SigningKey.generate().pubkey)
    assert _error_reason(*run_wallet("send", "alice", devnet_address, "1", *node)[::2]) == "bad-address"
    for amount in ("0", "-1", "1e3", "0.000000001", "abc"):
        assert _error_reason(*run_wallet("send", "alice", to, amount, *node)[::2]) == "bad-amount"
    assert _error_reason(*run_wallet("send", "alice", to, "1", "--fee", "-1", *node)[::2]) == "bad-fee"
    assert _error_reason(*run_wallet("send", "alice", to, "1", *node)[::2]) == "node-unreachable"


def test_node_unreachable_with_a_cookie_but_no_listener(run_wallet, tmp_path):
    run_wallet("create", "alice")
    datadir = tmp_path / "node"
    datadir.mkdir()
    (datadir / ".cookie").write_text("__cookie__:" + "ab" * 32)
    node = ["--datadir", str(datadir), "--rpcport", str(_free_port())]
    for action in (["balance", "alice"], ["history", "alice"]):
        assert _error_reason(*run_wallet(*action, *node)[::2]) == "node-unreachable"


def test_no_secret_or_password_in_any_output(run_wallet, wallet_home, wallet_password, tmp_path):
    outputs = []

    def run(*args, stdin=""):
        rc, out, err = run_wallet(*args, stdin=stdin)
        outputs.append(out + err)
        return rc

    run("create", "alice")
    run("import", "bob", stdin=SECRET_HEX)
    run("import", "bad", stdin=SECRET_HEX[:-1] + "g")
    run("hotkey", "new", "alice", "miner")
    run("hotkey", "new", "alice", "miner")
    run("hotkey", "list", "alice")
    run("list")
    run("list", "--json")
    run("address", "alice")
    run("address", "alice", "--hotkey", "miner")
    run("export", "alice")
    run("send", "alice", "rhg1bad", "1", "--datadir", str(tmp_path))
    run("send", "alice", load_wallet(wallet_home, "bob").get_address(), "1", "--datadir", str(tmp_path))
    run("balance", "alice", "--datadir", str(tmp_path))
    alice = load_wallet(wallet_home, "alice")
    secrets = [
        unseal_key(alice, wallet_password).secret.hex(),
        unseal_key(alice, wallet_password, "miner").secret.hex(),
        SECRET_HEX,
    ]
    text = "\n".join(outputs)
    for secret in secrets:
        assert secret not in text and secret.upper() not in text
    assert wallet_password not in text
    assert len(outputs) == 14 and all(outputs)


def test_real_process_exit_codes_and_last_line(wallet_home):
    env = dict(os.environ)
    command = [sys.executable, "-m", "hashgrad", "wallet"]
    created = subprocess.run(
        command + ["create", "proc"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines()[-1] == load_wallet(wallet_home, "proc").get_address()
    missing = subprocess.run(
        command + ["address", "nobody"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1 and missing.stderr.startswith("error: unknown-wallet")
