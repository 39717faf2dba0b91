"""The commands end to end: `hashgrad serve miner` as a real process on loopback, then
`hashgrad generate`, `hashgrad serve validate` and `hashgrad model export` against it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from hashgrad.chain.keys import SigningKey
from hashgrad.cli import main as cli_main
from hashgrad.roles.keys import RoleKeys
from hashgrad.serve.engine import SamplingParams, encode_text
from hashgrad.work.data import save_dataset
from hashgrad.work.hardware import compute_kernel_env

MODULES = [
    ("serve", "hashgrad.cli.serve_cmd"),
    ("generate", "hashgrad.cli.generate_cmd"),
    ("model", "hashgrad.cli.model_cmd"),
]
LAUNCHER = (
    "import sys; from hashgrad.cli import main as m; "
    f"m.SUBCOMMANDS += [c for c in {MODULES!r} if c not in m.SUBCOMMANDS]; sys.exit(m.main(sys.argv[1:]))"
)


@pytest.fixture
def cli(monkeypatch):
    monkeypatch.setattr(
        cli_main, "SUBCOMMANDS", cli_main.SUBCOMMANDS + [c for c in MODULES if c not in cli_main.SUBCOMMANDS]
    )
    return cli_main.main


@pytest.fixture(scope="module")
def files(tmp_path_factory, current, serve_dataset):
    root = tmp_path_factory.mktemp("serve-cli")
    (root / "ckpt.safetensors").write_bytes(current.to_bytes())
    RoleKeys(SigningKey(bytes([9]) * 32), SigningKey(bytes([10]) * 32)).save(root / "miner.json")
    save_dataset(serve_dataset, root / "data" / "manifest.json")
    return root


@pytest.fixture(scope="module")
def miner(files):
    port_file = files / "port"
    args = [
        "serve",
        "miner",
        "--checkpoint",
        str(files / "ckpt.safetensors"),
        "--port",
        "0",
        "--port-file",
        str(port_file),
        "--keyfile",
        str(files / "miner.json"),
    ]
    # the miner's tokens are compared bit for bit with this process's engine: the same CPU kernel in both
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, *args], stderr=subprocess.PIPE, text=True, env=compute_kernel_env()
    )
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text().endswith("\n")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"miner did not start: {process.stderr.read()}")
        time.sleep(0.1)
    yield f"http://127.0.0.1:{int(port_file.read_text())}"
    process.terminate()
    process.wait(timeout=30)


def test_generate_through_the_gateway(cli, capsys, miner, files, engine):
    code = cli(
        [
            "generate",
            "from email import ",
            "--max-tokens",
            "10",
            "--miners",
            miner,
            "--checkpoint",
            str(files / "ckpt.safetensors"),
            "--json",
        ]
    )
    reply = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and reply["verified"] and reply["miner"] == miner
    assert tuple(reply["token_ids"]) == engine.generate(encode_text("from email import "), 10, SamplingParams()).tokens


def test_validate_round(cli, capsys, miner, files, fingerprint):
    code = cli(
        [
            "serve",
            "validate",
            "--miners",
            miner,
            "--checkpoint",
            str(files / "ckpt.safetensors"),
            "--dataset",
            str(files / "data" / "manifest.json"),
            "--challenges",
            "3",
            "--seed",
            "ab" * 32,
        ]
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and result["checkpoint"] == fingerprint.hex() and result["weights"] == [[0, 65535]]


def test_model_export(cli, capsys, files, tmp_path):
    assert (
        cli(
            ["model", "export", "--format", "hf", str(tmp_path / "hf"), "--checkpoint", str(files / "ckpt.safetensors")]
        )
        == 0
    )
    assert (tmp_path / "hf" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "gpt2"


def test_wrong_checkpoint_hash_is_refused(cli, capsys, files):
    code = cli(
        [
            "model",
            "export",
            str(files / "out"),
            "--checkpoint",
            str(files / "ckpt.safetensors"),
            "--checkpoint-hash",
            "00" * 32,
        ]
    )
    assert code == 1 and "wrong-checkpoint" in capsys.readouterr().err
