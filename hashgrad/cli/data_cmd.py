"""`hashgrad data ...`: bring a dataset and a tokenizer.

    hashgrad data tokenizer train SOURCE --vocab-size 8000 --out tokenizer.json [--field text]
    hashgrad data prepare SOURCE --out DIR (--checkpoint genesis.safetensors | --tokenizer tokenizer.json)
                          [--field text] [--page-tokens 4096] [--shard-pages 64]
    hashgrad data publish DIR/manifest.json --datadir NODE_DIR        (shards into the node's artifact store)

SOURCE is a file or a folder of .txt, .jsonl (text in --field) and .parquet (column --field). Prepare
tokenizes with the job's tokenizer (the one the genesis checkpoint carries; byte-level when it has
none) into content-addressed shards and a manifest; miners given that manifest fetch missing shards
from their node by hash, and the node gets them from its peers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from hashgrad.cli.node_options import add_node_arguments, connect_from_args
from hashgrad.errors import WorkError
from hashgrad.work.hashing import compute_sha256
from hashgrad.work.tokenizer import MAX_TOKENIZER_BYTES, load_tokenizer, train_tokenizer


def register(subparsers) -> None:

    parser = subparsers.add_parser("data", help="datasets and tokenizers: prepare token shards, train a tokenizer")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    prepare = sub.add_parser("prepare", help="tokenize a folder of .txt/.jsonl/.parquet into token shards")
    prepare.add_argument("source", type=Path)
    prepare.add_argument("--out", type=Path, required=True, help="output folder (manifest.json, shards/)")
    prepare.add_argument("--checkpoint", type=Path, help="use the tokenizer this checkpoint carries")
    prepare.add_argument("--tokenizer", type=Path, help="a tokenizer.json (default: byte-level)")
    prepare.add_argument("--field", default="text", help="the text field of .jsonl records / .parquet column")
    prepare.add_argument("--page-tokens", type=int, default=4096, help="tokens per page (the work preset's)")
    prepare.add_argument("--shard-pages", type=int, default=64, help="pages per shard")
    prepare.add_argument("--name", default="", help="the dataset's name in the manifest")
    prepare.add_argument("--progress", action=__import__("argparse").BooleanOptionalAction, default=True)
    prepare.set_defaults(func=run_prepare)
    tokenizer = sub.add_parser("tokenizer", help="tokenizers")
    tok_sub = tokenizer.add_subparsers(dest="tokenizer_command", metavar="ACTION", required=True)
    train = tok_sub.add_parser("train", help="train a byte-level BPE tokenizer on a dataset")
    train.add_argument("source", type=Path)
    train.add_argument("--out", type=Path, required=True, help="the tokenizer.json to write")
    train.add_argument("--vocab-size", type=int, default=8192)
    train.add_argument("--field", default="text")
    train.set_defaults(func=run_tokenizer_train)
    publish = sub.add_parser("publish", help="put a prepared dataset's shards into a node's artifact store")
    publish.add_argument("manifest", type=Path)
    add_node_arguments(publish)
    publish.set_defaults(func=run_publish)


def read_tokenizer_arg(args) -> bytes:
    # lazy: keeps torch off this command's start-up
    from hashgrad.serve.checkpoints import load_checkpoint_file

    if args.checkpoint and args.tokenizer:
        raise WorkError("bad-arguments", "give --checkpoint or --tokenizer, not both")
    if args.checkpoint:
        return load_checkpoint_file(args.checkpoint)[0].tokenizer
    if args.tokenizer:
        if args.tokenizer.stat().st_size > MAX_TOKENIZER_BYTES:
            raise WorkError("too-large", f"{args.tokenizer} exceeds {MAX_TOKENIZER_BYTES} bytes")
        data = args.tokenizer.read_bytes()
        load_tokenizer(data)
        return data
    return b""


def run_prepare(args) -> int:

    # lazy: keeps torch off this command's start-up
    from hashgrad.work.data import compute_manifest_hash
    from hashgrad.work.prepare import get_total_bytes, prepare_dataset

    tokenizer = read_tokenizer_arg(args)
    started = time.monotonic()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        disable=not args.progress,
        transient=True,
    ) as progress:
        task = progress.add_task("tokenizing", total=get_total_bytes(args.source))
        manifest = prepare_dataset(
            args.source,
            args.out,
            tokenizer,
            args.page_tokens,
            args.shard_pages,
            args.field,
            args.name,
            lambda n: progress.advance(task, n),
        )
    print(
        json.dumps(
            {
                "manifest": str(args.out / "manifest.json"),
                "manifest_hash": compute_manifest_hash(manifest).hex(),
                "tokenizer": manifest["tokenizer"],
                "pages": manifest["num_pages"],
                "shards": len(manifest["shards"]),
                "heldout_pages": len(manifest["heldout"]),
                "tokens": manifest["num_pages"] * manifest["page_tokens"],
                "seconds": round(time.monotonic() - started, 3),
            }
        )
    )
    return 0


def run_tokenizer_train(args) -> int:

    # lazy: keeps torch off this command's start-up
    from hashgrad.work.prepare import iter_documents

    data = train_tokenizer(iter_documents(args.source, args.field), args.vocab_size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(json.dumps({"tokenizer": str(args.out), "sha256": compute_sha256(data).hex(), "vocab_size": args.vocab_size}))
    return 0


def run_publish(args) -> int:

    # lazy: keeps torch off this command's start-up
    from hashgrad.roles.shards import publish_shards

    client = connect_from_args(args)
    if client is None:
        raise WorkError("missing-node", "give --datadir of the node to publish to")
    print(json.dumps({"published": publish_shards(client, args.manifest)}))
    return 0
