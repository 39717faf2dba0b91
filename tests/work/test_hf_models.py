"""Model families against transformers: tiny random Llama (GQA, tied and untied) and GPT-2 models made
in the test import as checkpoints with equal logits, and export back bit for bit."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from hashgrad.errors import WorkError
from hashgrad.serve.export import export_hf
from hashgrad.work.hf_import import import_hf
from hashgrad.work.model import build_model, checkpoint_hash, decode_checkpoint
from hashgrad.work.models.llama import Llama, LlamaConfig
from tests.work.hf_models import VOCAB, make_gpt2, make_llama

transformers = pytest.importorskip("transformers")


def compute_max_diff(theirs, ours, tokens: torch.Tensor) -> float:
    with torch.no_grad():
        return float((theirs(tokens).logits - ours(tokens)[0]).abs().max())


@pytest.mark.parametrize("tied", [False, True])
def test_llama_import_matches_transformers_logits(tmp_path, tied):
    hf = make_llama(tmp_path / "hf", tied=tied)
    checkpoint = decode_checkpoint(import_hf(tmp_path / "hf").to_bytes())
    assert isinstance(checkpoint.config, LlamaConfig) and checkpoint.config.num_key_value_heads == 2
    assert ("lm_head.weight" in checkpoint.state) is not tied
    model = checkpoint.build_model().eval()
    assert isinstance(model, Llama)
    tokens = torch.randint(0, VOCAB, (3, 40), generator=torch.Generator().manual_seed(1))
    assert compute_max_diff(hf, model, tokens) <= 1e-5


def test_llama_export_loads_in_transformers_bit_identical(tmp_path):
    hf = make_llama(tmp_path / "hf")
    data = import_hf(tmp_path / "hf").to_bytes()
    checkpoint = decode_checkpoint(data)
    paths = export_hf(checkpoint, tmp_path / "out", checkpoint_hash(data))
    assert {p.name for p in paths} >= {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
    theirs, ours = load_file(tmp_path / "hf" / "model.safetensors"), load_file(tmp_path / "out" / "model.safetensors")
    assert set(theirs) == set(ours) and all(torch.equal(theirs[k], ours[k]) for k in theirs)
    assert (tmp_path / "out" / "tokenizer.json").read_bytes() == (tmp_path / "hf" / "tokenizer.json").read_bytes()
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    tokens = torch.randint(0, VOCAB, (2, 30), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(loaded(tokens).logits, hf(tokens).logits)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "out")
    from hashgrad.work.tokenizer import get_codec

    assert tokenizer("def main():").input_ids == get_codec(checkpoint.tokenizer).encode("def main():")
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.chat_template


def test_gpt2_import_export_roundtrip(tmp_path):
    hf = make_gpt2(tmp_path / "hf")
    data = import_hf(tmp_path / "hf").to_bytes()
    checkpoint = decode_checkpoint(data)
    tokens = torch.randint(0, VOCAB, (2, 30), generator=torch.Generator().manual_seed(3))
    assert compute_max_diff(hf, checkpoint.build_model().eval(), tokens) <= 1e-5
    export_hf(checkpoint, tmp_path / "out", checkpoint_hash(data))
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    assert compute_max_diff(loaded, checkpoint.build_model().eval(), tokens) <= 1e-5
    theirs, ours = load_file(tmp_path / "hf" / "model.safetensors"), load_file(tmp_path / "out" / "model.safetensors")
    assert all(torch.equal(theirs[k], ours[k]) for k in ours)


def test_sharded_safetensors_import(tmp_path):
    hf = make_llama(tmp_path / "one")
    hf.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "sharded" / name).write_bytes((tmp_path / "one" / name).read_bytes())
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    assert import_hf(tmp_path / "sharded").to_bytes() == import_hf(tmp_path / "one").to_bytes()


@pytest.mark.parametrize(
    "field, value",
    [
        ("hidden_act", "gelu"),
        ("attention_bias", True),
        ("model_type", "mistral"),
        ("rope_scaling", {"rope_type": "linear", "factor": 2.0}),
    ],
)
def test_unsupported_config_names_the_field(tmp_path, field, value):
    make_llama(tmp_path / "hf")
    path = tmp_path / "hf" / "config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {field: value}))
    with pytest.raises(WorkError) as info:
        import_hf(tmp_path / "hf")
    assert info.value.reason == "unsupported-config" and field in str(info.value)


def test_missing_and_extra_tensors_refused(tmp_path):
    make_llama(tmp_path / "hf")
    state = load_file(tmp_path / "hf" / "model.safetensors")
    from safetensors.torch import save_file

    save_file({k: v for k, v in state.items() if "layers.1.mlp" not in k}, tmp_path / "hf" / "model.safetensors")
    with pytest.raises(WorkError) as info:
        import_hf(tmp_path / "hf")
    assert info.value.reason == "bad-tensor-names"
    save_file(state | {"model.extra.weight": torch.zeros(2)}, tmp_path / "hf" / "model.safetensors")
    with pytest.raises(WorkError) as info:
        import_hf(tmp_path / "hf")
    assert info.value.reason == "bad-tensor-names"


def test_tampered_tokenizer_refused(tmp_path):
    make_llama(tmp_path / "hf")
    data = import_hf(tmp_path / "hf").to_bytes()
    index = data.rindex(b'"model"')  # inside the tokenizer's bytes, the last tensor's data
    with pytest.raises(WorkError) as info:
        decode_checkpoint(data[:index] + b"'" + data[index + 1 :])
    assert info.value.reason == "bad-tokenizer"


def test_build_model_picks_family():
    assert isinstance(
        build_model(
            LlamaConfig(
                vocab_size=300,
                block_size=16,
                hidden_size=16,
                intermediate_size=32,
                num_hidden_layers=1,
                num_attention_heads=2,
                num_key_value_heads=1,
                head_dim=8,
            )
        ),
        Llama,
    )
    with pytest.raises(WorkError) as info:
        LlamaConfig(num_attention_heads=3, num_key_value_heads=2).check()
    assert info.value.reason == "bad-model-config"


def test_cli_import_then_export(tmp_path, capsys):
    from hashgrad.cli.main import main

    make_llama(tmp_path / "hf")
    assert (
        main(["model", "import", "--format", "hf", str(tmp_path / "hf"), "--out", str(tmp_path / "g.safetensors")]) == 0
    )
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["family"] == "llama" and len(summary["tokenizer"]) == 64
    assert (
        main(
            [
                "model",
                "export",
                "--format",
                "hf",
                "--checkpoint",
                str(tmp_path / "g.safetensors"),
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "out" / "config.json").read_text())["num_key_value_heads"] == 2
    assert main(["model", "import", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 1
    assert "error: missing-file" in capsys.readouterr().err


def test_llama_cached_generation_equals_the_reference_loop(tmp_path):
    from hashgrad.serve.engine import Engine, SamplingParams

    make_llama(tmp_path / "hf")
    engine = Engine(import_hf(tmp_path / "hf"))
    prompt = tuple(engine.codec.encode("def main():"))
    for params in (SamplingParams(), SamplingParams(temperature=0.8, top_k=50, seed=7)):
        cached, reference = engine.generate(prompt, 12, params), engine.generate(prompt, 12, params, cached=False)
        assert cached.tokens == reference.tokens
        assert max(abs(a - b) for a, b in zip(cached.logprobs, reference.logprobs)) < 1e-4


def test_gpt2_names_are_gpt2lmheadmodel_names(tmp_path):
    """Our GPT keeps GPT2Model's names (checkpoint hashes depend on them); under `transformer.` they are
    exactly GPT2LMHeadModel's state dict, less its tied head and causal-mask buffers."""
    from hashgrad.work.model import GPTConfig, compute_param_shapes

    ours = compute_param_shapes(GPTConfig(vocab_size=VOCAB, block_size=64, n_layer=2, n_head=2, n_embd=32))
    theirs = make_gpt2(tmp_path / "hf").state_dict()
    kept = {k: tuple(v.shape) for k, v in theirs.items() if k != "lm_head.weight" and not k.endswith(".attn.bias")}
    assert {f"transformer.{k}": v for k, v in ours.items()} == kept
