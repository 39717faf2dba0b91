#!/usr/bin/env python3
"""Benchmark of bringing your own model and data: miner training speed, export fidelity, prepare speed.

  train_tokens_per_s_ratio  = our miner's inner training (work.miner.compute_training, the exact code a
                              miner runs: seeded batches from token shards, AdamW without fused kernels,
                              gradient clipping, milestone hashes) on a ~10M-parameter Llama-style model
                              (GQA, untied head, BPE vocabulary of 4096), over a plain PyTorch loop of the same
                              model, batch and optimizer (random batches already in memory, default AdamW);
                              both on one thread, as miners run; the two alternate for --rounds rounds and
                              each keeps its best round (the machine is shared).              goal >= 0.9
  export_max_abs_logit_diff = a Llama made by transformers (the same size), imported, exported and loaded
                              back with AutoModelForCausalLM: max |logit difference| over random inputs, and
                              our model's against transformers' original                     goal <= 1e-5
  prepare_mb_per_s          = `data prepare` throughput on a jsonl file of real text (the Python standard
                              library's sources, one record per file) tokenized by a byte-level BPE trained
                              on it (input MB per second, shards written)

Prints progress; the last line is JSON.
    .venv/bin/python bench/bench_models.py [--steps 4] [--rounds 3] [--batch 8] [--prepare-mb 16]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from hashgrad.serve.export import export_hf
from hashgrad.work.data import get_corpus_files, get_stdlib_dir, load_dataset
from hashgrad.work.hf_import import import_hf
from hashgrad.work.miner import compute_training, set_determinism_pins
from hashgrad.work.model import checkpoint_hash, compute_num_params, decode_checkpoint
from hashgrad.work.params import get_preset
from hashgrad.work.prepare import iter_documents, prepare_dataset
from hashgrad.work.tokenizer import train_tokenizer

VOCAB = 4096
CONTEXT = 128


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_jsonl(path: Path, megabytes: float) -> int:
    """The stdlib's .py files as {"text": ...} records, up to `megabytes`; returns the bytes written."""
    size = 0
    with path.open("w") as handle:
        for file in get_corpus_files(get_stdlib_dir(), (".py",)):
            if size >= megabytes * 1e6:
                break
            try:
                line = json.dumps({"text": file.read_text(encoding="utf-8")}) + "\n"
            except (UnicodeDecodeError, OSError):
                continue
            handle.write(line)
            size += len(line)
    return size


def make_hf_llama(folder: Path, tokenizer: bytes):
    import transformers

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=384,
        intermediate_size=1024,
        num_hidden_layers=5,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=None,
    )
    model = transformers.LlamaForCausalLM(config).eval()
    model.save_pretrained(folder)
    (folder / "tokenizer.json").write_bytes(tokenizer)
    return model


def measure_export(root: Path, hf_model) -> float:
    import transformers

    data = import_hf(root / "hf").to_bytes()
    checkpoint = decode_checkpoint(data)
    export_hf(checkpoint, root / "export", checkpoint_hash(data))
    loaded = transformers.AutoModelForCausalLM.from_pretrained(root / "export").eval()
    ours = checkpoint.build_model().eval()
    tokens = torch.randint(0, VOCAB, (4, CONTEXT), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        original = hf_model(tokens).logits
        return max(
            float((loaded(tokens).logits - original).abs().max()), float((ours(tokens)[0] - original).abs().max())
        )


def measure_plain_loop(checkpoint, params, steps: int) -> float:
    """Tokens/s of the textbook loop: the same model and batch, AdamW's default (foreach) path."""
    model = checkpoint.build_model().train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=params.inner_lr, betas=params.inner_betas, weight_decay=params.inner_weight_decay
    )
    generator = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, VOCAB, (params.batch_size, CONTEXT + 1), generator=generator) for _ in range(steps + 1)]
    for index, batch in enumerate(batches):
        if index == 1:
            started = time.perf_counter()  # the first step warms up allocators and kernels
        _, loss = model(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), params.inner_grad_clip)
        optimizer.step()
    return steps * params.batch_size * CONTEXT / (time.perf_counter() - started)


def measure_miner(checkpoint, dataset, params, steps: int) -> float:
    """Tokens/s of the miner's own training function (the first step is timed apart as warm-up)."""
    seed, hotkey = bytes(32), bytes([7]) * 32
    job = replace(params, inner_steps=steps + 1)
    started = time.perf_counter()
    compute_training(checkpoint, dataset, seed, hotkey, job, steps=1)
    warm = time.perf_counter() - started
    started = time.perf_counter()
    compute_training(checkpoint, dataset, seed, hotkey, job)
    return steps * params.batch_size * CONTEXT / (time.perf_counter() - started - warm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--prepare-mb", type=float, default=16.0)
    args = parser.parse_args()
    set_determinism_pins(threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        size = write_jsonl(root / "data.jsonl", args.prepare_mb)
        tokenizer = train_tokenizer(itertools.islice(iter_documents(root / "data.jsonl"), 300), VOCAB)
        started = time.perf_counter()
        manifest = prepare_dataset(
            root / "data.jsonl", root / "ds", tokenizer, page_tokens=16 * (CONTEXT + 1), shard_pages=64
        )
        prepare_mb_per_s = size / 1e6 / (time.perf_counter() - started)
        log(
            f"prepare: {size / 1e6:.1f} MB -> {manifest['num_pages']} pages in {len(manifest['shards'])} shards, "
            f"{prepare_mb_per_s:.2f} MB/s"
        )
        hf_model = make_hf_llama(root / "hf", tokenizer)
        diff = measure_export(root, hf_model)
        log(f"export: max |logit diff| {diff:.3g}")
        checkpoint = decode_checkpoint(import_hf(root / "hf").to_bytes())
        dataset = load_dataset(root / "ds" / "manifest.json")
        params = get_preset(
            "demo",
            model=checkpoint.config,
            page_tokens=dataset.page_tokens,
            batch_size=args.batch,
            pages_per_miner=8,
            kernel=torch.backends.cpu.get_cpu_capability(),
        )
        log(f"model: {compute_num_params(checkpoint.config) / 1e6:.2f}M parameters, batch {args.batch} x {CONTEXT}")
        plain, miner = 0.0, 0.0
        for _ in range(args.rounds):
            plain = max(plain, measure_plain_loop(checkpoint, params, args.steps))
            miner = max(miner, measure_miner(checkpoint, dataset, params, args.steps))
        log(f"training: miner {miner:.0f} tokens/s, plain loop {plain:.0f} tokens/s")
    print(
        json.dumps(
            {
                "train_tokens_per_s_ratio": round(miner / plain, 3),
                "miner_tokens_per_s": round(miner, 1),
                "plain_tokens_per_s": round(plain, 1),
                "params": compute_num_params(checkpoint.config),
                "export_max_abs_logit_diff": diff,
                "prepare_mb_per_s": round(prepare_mb_per_s, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
