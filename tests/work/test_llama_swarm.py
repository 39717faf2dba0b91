"""A Llama with grouped-query attention, made by transformers in the test, trains on the network's
real code path: import, token shards from a jsonl file, miners, validators (scoring, audits) and
aggregation for a few epochs; the result exports to a folder transformers loads with equal logits."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from hashgrad.serve.export import export_hf
from hashgrad.work.data import load_dataset
from hashgrad.work.evaluate import compute_heldout_loss
from hashgrad.work.hf_import import import_hf
from hashgrad.work.job_model import compute_job_params
from hashgrad.work.model import checkpoint_hash, decode_checkpoint
from hashgrad.work.prepare import prepare_dataset
from hashgrad.work.swarm import build_swarm, run_epoch
from tests.work.hf_models import VOCAB, make_llama
from tests.work.test_prepare import make_texts, write_jsonl

transformers = pytest.importorskip("transformers")


def test_llama_trains_on_the_swarm_and_exports_to_transformers(tmp_path, params):
    make_llama(tmp_path / "hf")
    genesis = decode_checkpoint(import_hf(tmp_path / "hf").to_bytes())
    write_jsonl(tmp_path / "data.jsonl", make_texts(400))
    prepare_dataset(tmp_path / "data.jsonl", tmp_path / "ds", genesis.tokenizer, page_tokens=260, shard_pages=4)
    dataset = load_dataset(tmp_path / "ds" / "manifest.json")
    job = compute_job_params(replace(params, audit_probability=1.0, quorum=2), genesis, dataset)
    assert job.model == genesis.config and job.windows_per_page == 4
    swarm = build_swarm(job, dataset, genesis, ["honest"] * 3 + ["noise"])
    start = compute_heldout_loss(genesis, dataset)
    records = [run_epoch(swarm) for _ in range(2)]
    assert all(r.accepted >= job.quorum for r in records) and sum(r.audited for r in records) > 0
    assert records[-1].heldout_loss < start - 0.1
    assert records[-1].weights.get(3, 0.0) < 0.01  # the noise miner earns nothing
    final = swarm.checkpoint
    assert final.tokenizer == genesis.tokenizer and final.config == genesis.config
    data = final.to_bytes()
    export_hf(decode_checkpoint(data), tmp_path / "out", checkpoint_hash(data))
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    tokens = torch.randint(0, VOCAB, (2, 48), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        diff = (loaded(tokens).logits - final.build_model().eval()(tokens)[0]).abs().max()
    assert float(diff) <= 1e-5
