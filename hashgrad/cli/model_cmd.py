"""`hashgrad model ...`: bring a model in, take the trained model out.

    hashgrad model import --format hf HF_DIR --out genesis.safetensors   (a job's genesis checkpoint)
    hashgrad model export --format hf DIR --checkpoint ckpt.safetensors
    hashgrad model export --format hf DIR --datadir NODE_DIR        (job 0's latest checkpoint on chain)

Import reads a Hugging Face folder (config.json, model.safetensors or sharded safetensors with their
index, tokenizer.json); export writes a directory that `AutoModelForCausalLM.from_pretrained(DIR)`
(and `AutoTokenizer`, when the checkpoint carries a tokenizer) loads.
"""

from __future__ import annotations

import json
from pathlib import Path

from hashgrad.cli.node_options import connect_from_args
from hashgrad.cli.serve_cmd import add_checkpoint_arguments, resolve_checkpoint
from hashgrad.work.tokenizer import compute_tokenizer_id


def register(subparsers) -> None:

    parser = subparsers.add_parser("model", help="the model: import a Hugging Face folder, export a checkpoint")
    sub = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="write the checkpoint in another format")
    export.add_argument("dir", type=Path)
    export.add_argument("--format", choices=["hf"], default="hf", help="hf: a transformers directory")
    add_checkpoint_arguments(export)
    export.set_defaults(func=run_export)
    imp = sub.add_parser("import", help="make a genesis checkpoint from a model folder")
    imp.add_argument("dir", type=Path, help="a Hugging Face folder: config.json, *.safetensors, tokenizer.json")
    imp.add_argument("--format", choices=["hf"], default="hf")
    imp.add_argument("--out", type=Path, required=True, help="the checkpoint file to write")
    imp.set_defaults(func=run_import)


def run_export(args) -> int:
    # lazy: keeps torch off this command's start-up
    from hashgrad.serve.export import export_hf

    checkpoint, digest = resolve_checkpoint(args, connect_from_args(args))
    for path in export_hf(checkpoint, args.dir, digest):
        print(path)
    print(f"checkpoint {digest.hex()}: load with transformers.AutoModelForCausalLM.from_pretrained({str(args.dir)!r})")
    return 0


def run_import(args) -> int:

    # lazy: keeps torch off this command's start-up
    from hashgrad.work.hf_import import import_hf
    from hashgrad.work.model import checkpoint_hash, compute_num_params

    checkpoint = import_hf(args.dir)
    data = checkpoint.to_bytes()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(
        json.dumps(
            {
                "checkpoint": str(args.out),
                "checkpoint_hash": checkpoint_hash(data).hex(),
                "family": getattr(checkpoint.config, "model_type", "gpt2"),
                "params": compute_num_params(checkpoint.config),
                "tokenizer": compute_tokenizer_id(checkpoint.tokenizer),
            }
        )
    )
    return 0
