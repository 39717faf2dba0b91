"""The GPT, its GPT-2 parameter layout and checkpoint validation (hashgrad.work.model)."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from safetensors.torch import save as safetensors_save

from hashgrad.errors import WorkError
from hashgrad.work.model import (
    MODEL_PRESETS,
    Checkpoint,
    checkpoint_hash,
    compute_initial_state,
    compute_num_params,
    compute_param_shapes,
    decode_checkpoint,
    encode_checkpoint,
)


def test_demo_model_has_gpt2_layout_and_about_1m_params():
    config = MODEL_PRESETS["demo"]
    shapes = compute_param_shapes(config)
    assert shapes["wte.weight"] == (256, 128) and shapes["wpe.weight"] == (128, 128)
    assert shapes["h.0.attn.c_attn.weight"] == (128, 384)  # Conv1D layout [in, out], as GPT-2
    assert shapes["h.3.mlp.c_proj.weight"] == (512, 128)
    assert "lm_head.weight" not in shapes  # tied to wte
    assert 800_000 < compute_num_params(config) < 900_000
    model = Checkpoint(config, compute_initial_state(config, 0)).build_model()
    assert {n: tuple(p.shape) for n, p in model.named_parameters()} == shapes


def test_forward_gives_byte_level_loss(checkpoint):
    model = checkpoint.build_model()
    idx = torch.randint(0, 256, (2, checkpoint.config.block_size))
    logits, loss = model(idx, idx)
    assert logits.shape == (2, checkpoint.config.block_size, 256)
    assert 4.5 < loss.item() < 6.5  # ~ln(256) at initialisation


def test_checkpoint_bytes_are_canonical_and_roundtrip(checkpoint):
    data = encode_checkpoint(checkpoint)
    again = Checkpoint(checkpoint.config, {k: v.clone() for k, v in reversed(list(checkpoint.state.items()))})
    assert encode_checkpoint(again) == data
    decoded = decode_checkpoint(data)
    assert decoded.config == checkpoint.config and decoded.to_bytes() == data
    assert checkpoint_hash(data) == checkpoint_hash(decoded.to_bytes())


def rewrite(checkpoint, state=None, header=None) -> bytes:
    tensors = dict(state or checkpoint.state)
    from dataclasses import asdict

    meta = header or {"format": "hashgrad-checkpoint-v1", "config": asdict(checkpoint.config)}
    return safetensors_save(tensors, metadata={"hashgrad": json.dumps(meta, sort_keys=True, separators=(",", ":"))})


def reason_of(data: bytes, **kw) -> str:
    with pytest.raises(WorkError) as exc:
        decode_checkpoint(data, **kw)
    return exc.value.reason


def test_invalid_checkpoints_are_rejected_with_reasons(checkpoint):
    data = encode_checkpoint(checkpoint)
    assert reason_of(data[:-10]) == "bad-safetensors"  # truncated
    assert reason_of(data[:5]) == "bad-safetensors"
    assert reason_of(data, max_bytes=len(data) - 1) == "too-large"
    state = dict(checkpoint.state)
    state["wte.weight"] = state["wte.weight"][:-1].clone()
    assert reason_of(rewrite(checkpoint, state)) == "bad-shape"
    state = dict(checkpoint.state)
    state["ln_f.bias"] = state["ln_f.bias"].clone()
    state["ln_f.bias"][0] = float("nan")
    assert reason_of(rewrite(checkpoint, state)) == "non-finite"
    state = dict(checkpoint.state)
    state["ln_f.bias"] = state["ln_f.bias"].double()
    assert reason_of(rewrite(checkpoint, state)) == "bad-dtype"
    state = dict(checkpoint.state)
    state["lm_head.weight"] = torch.zeros(1)
    assert reason_of(rewrite(checkpoint, state)) == "bad-tensor-names"
    assert reason_of(rewrite(checkpoint, header={"format": "other"})) == "bad-format"


class Boom:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_pickle_bytes_are_never_executed(checkpoint, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = pickle.dumps(Boom())
    assert reason_of(payload) == "bad-safetensors"
    # pickle smuggled after a valid-looking header
    data = encode_checkpoint(checkpoint)
    assert reason_of(data + payload) == "bad-safetensors"
    assert not (tmp_path / "PWNED").exists()


def with_momentum(checkpoint) -> Checkpoint:
    size = compute_num_params(checkpoint.config)
    return Checkpoint(checkpoint.config, checkpoint.state, torch.linspace(-1e-3, 1e-3, size))


def test_outer_momentum_travels_in_a_v2_checkpoint(checkpoint):
    v1 = encode_checkpoint(checkpoint)
    outer = with_momentum(checkpoint)
    data = encode_checkpoint(outer)
    assert (
        json.loads(json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["__metadata__"]["hashgrad"])["format"]
        == "hashgrad-checkpoint-v2"
    )
    decoded = decode_checkpoint(data)
    assert torch.equal(decoded.momentum, outer.momentum) and decoded.to_bytes() == data
    # the weights are the same tensors in both formats; a checkpoint without momentum keeps v1 bytes
    assert all(torch.equal(decoded.state[k], checkpoint.state[k]) for k in checkpoint.state)
    assert decode_checkpoint(v1).momentum is None and checkpoint_hash(v1) != checkpoint_hash(data)


def test_invalid_outer_momentum_is_rejected(checkpoint):
    from dataclasses import asdict

    outer = with_momentum(checkpoint)
    v2 = {"format": "hashgrad-checkpoint-v2", "config": asdict(checkpoint.config)}
    assert reason_of(rewrite(checkpoint, header=v2)) == "bad-tensor-names"  # v2 without its momentum
    assert reason_of(rewrite(checkpoint, {**checkpoint.state, "outer.momentum": outer.momentum})) == "bad-tensor-names"
    assert (
        reason_of(rewrite(checkpoint, {**checkpoint.state, "outer.momentum": outer.momentum[:-1].clone()}, header=v2))
        == "bad-shape"
    )
    bad = outer.momentum.clone()
    bad[3] = float("inf")
    assert reason_of(rewrite(checkpoint, {**checkpoint.state, "outer.momentum": bad}, header=v2)) == "non-finite"
