"""`hashgrad model ...`: the trained model for its users.

    hashgrad model export --format hf DIR --checkpoint ckpt.safetensors
    hashgrad model export --format hf DIR --datadir NODE_DIR        (job 0's latest checkpoint on chain)

writes a directory that Hugging Face `transformers` loads with `GPT2LMHeadModel.from_pretrained(DIR)`.
"""
from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    from hashgrad.cli.serve_cmd import add_checkpoint_arguments

    parser = subparsers.add_parser("model", help="the trained model: export it for other tools")
    sub = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="write the checkpoint in another format")
    export.add_argument("dir", type=Path)
    export.add_argument("--format", choices=["hf"], default="hf", help="hf: a transformers GPT-2 directory")
    add_checkpoint_arguments(export)
    export.set_defaults(func=run_export)


def run_export(args) -> int:
    from hashgrad.cli.node_options import connect_from_args
    from hashgrad.cli.serve_cmd import resolve_checkpoint
    from hashgrad.serve.export import export_hf

    checkpoint, digest = resolve_checkpoint(args, connect_from_args(args))
    for path in export_hf(checkpoint, args.dir, digest):
        print(path)
    print(f"checkpoint {digest.hex()}: load with transformers.GPT2LMHeadModel.from_pretrained({str(args.dir)!r})")
    return 0
