"""The inference roles run where `--device` says (`hashgrad miner --job 1`, `hashgrad validator --job 1`),
read by the same option and check as `hashgrad serve` and the training roles (cli/device_options.py).

An unknown device is refused with `bad-device` and one this machine lacks with `device-unavailable`,
both before any node is contacted (no node runs here); inference refuses `--precision bf16`. The
CUDA case runs only where a GPU is visible.
"""

from __future__ import annotations

import argparse

import pytest
import torch

from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import get_network
from hashgrad.cli.main import main
from hashgrad.cli.roles_common import get_inference_device
from hashgrad.errors import HashgradError
from hashgrad.roles.inference import InferenceMiner
from hashgrad.roles.keys import RoleKeys
from hashgrad.work.model import MODEL_PRESETS, Checkpoint, compute_initial_state

INFER_JOB = get_network("regtest").jobs[1]


@pytest.fixture(scope="module")
def checkpoint():
    return Checkpoint(MODEL_PRESETS["tiny"], compute_initial_state(MODEL_PRESETS["tiny"], 5))


def build_server(checkpoint, device):
    miner = InferenceMiner(None, RoleKeys(SigningKey.generate(), SigningKey.generate()), INFER_JOB, device=device)
    return miner.build_server(checkpoint)


def test_inference_miner_serves_on_the_cpu_it_was_given(checkpoint):
    engine = build_server(
        checkpoint, get_inference_device(argparse.Namespace(device="cpu", precision="fp32"), INFER_JOB)
    ).backend
    assert engine.device == torch.device("cpu")
    assert {p.device for p in engine.model.parameters()} == {torch.device("cpu")}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_inference_miner_serves_on_cuda(checkpoint):
    engine = build_server(
        checkpoint, get_inference_device(argparse.Namespace(device="cuda", precision="fp32"), INFER_JOB)
    ).backend
    assert engine.device.type == "cuda" and {p.device.type for p in engine.model.parameters()} == {"cuda"}


def run_role(tmp_path, capsys, role: str, *extra: str) -> str:
    """`hashgrad ROLE --job 1 ...` against no node at all; its stderr (it must exit 1)."""
    args = [role, "--job", "1", "--datadir", str(tmp_path / "no-node"), "--keyfile", str(tmp_path / "k.json")]
    assert main([*args, "--dataset", str(tmp_path / "manifest.json"), *extra]) == 1
    return capsys.readouterr().err


@pytest.mark.parametrize("role", ["miner", "validator"])
def test_unknown_device_is_refused_before_any_node_is_contacted(tmp_path, capsys, role):
    assert "error: bad-device: 'tpu'" in run_role(tmp_path, capsys, role, "--device", "tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("role", ["miner", "validator"])
def test_cuda_without_a_gpu_fails_cleanly(tmp_path, capsys, role):
    err = run_role(tmp_path, capsys, role, "--device", "cuda")
    assert "error: device-unavailable: no CUDA device" in err and "Traceback" not in err


def test_inference_runs_fp32():
    with pytest.raises(HashgradError) as exc:
        get_inference_device(argparse.Namespace(device="cpu", precision="bf16"), INFER_JOB)
    assert exc.value.reason == "bad-precision"
