"""Export to Hugging Face: `transformers` loads the directory as GPT-2 and computes our logits."""

from __future__ import annotations

import json

import pytest
import torch

from hashgrad.serve.engine import SamplingParams, encode_text
from hashgrad.serve.export import compute_hf_state, export_hf


def test_hf_state_uses_gpt2_names(current):
    names = set(compute_hf_state(current))
    assert "transformer.h.1.attn.c_attn.weight" in names and "transformer.wte.weight" in names
    assert "lm_head.weight" not in names  # tied to wte, as GPT-2's save_pretrained writes it


def test_transformers_loads_export_and_matches_logits(tmp_path, current, engine, fingerprint):
    transformers = pytest.importorskip("transformers")
    export_hf(current, tmp_path / "hf", fingerprint)
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["vocab_size"] == 256
    model = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    tokens = encode_text("from email.message import Message\n")
    with torch.no_grad():
        theirs = model(torch.tensor([list(tokens)])).logits[0].double().numpy()
    ours = engine.compute_logits(tokens)
    assert abs(theirs - ours).max() < 1e-4
    with torch.no_grad():
        generated = model.generate(torch.tensor([list(tokens)]), max_new_tokens=12, do_sample=False, pad_token_id=0)
    assert tuple(generated[0, len(tokens) :].tolist()) == engine.generate(tokens, 12, SamplingParams()).tokens
