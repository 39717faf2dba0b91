"""`hashgrad serve ...`: inference for job 1 — a miner's OpenAI-compatible server, and a validation round.

    hashgrad serve miner --checkpoint ckpt.safetensors --open --port 8000     (local use, no signatures)
    hashgrad serve miner --follow --datadir DIR --keyfile keys.json --port 8000
        serve the latest checkpoint job 0 recorded on chain (fetched by hash, checked), reloading
        when a new one is recorded; requests must be signed by a hotkey (validators, gateways)
    hashgrad serve miner ... --adversary stale|other-model|random|truncated|quantized|replay
    hashgrad serve validate --miners http://127.0.0.1:8000,http://127.0.0.1:8001 --checkpoint ckpt.safetensors
        one validation round: challenges, verification, scores and u16 weights (JSON on the last line)

    --device cpu|cuda|cuda:N|mps picks where the model runs (default: the best available).
Torch runs on one thread with deterministic algorithms; verification allows for the last-bit
differences between kernels and devices (serve.verify's tolerances).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

import aiohttp

from hashgrad.chain.encoding import parse_hex
from hashgrad.chain.keys import SigningKey
from hashgrad.cli.device_options import add_device_argument, get_device
from hashgrad.cli.node_options import add_node_arguments, connect_from_args
from hashgrad.errors import WorkError
from hashgrad.roles.keys import RoleKeys

log = logging.getLogger("hashgrad.serve")


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="inference (job 1): serve the model, validate servers")
    sub = parser.add_subparsers(dest="serve_command", metavar="ACTION", required=True)

    miner = sub.add_parser("miner", help="run an OpenAI-compatible inference server for a checkpoint")
    add_checkpoint_arguments(miner)
    miner.add_argument("--follow", action="store_true", help="serve job 0's latest on-chain checkpoint, reloading")
    miner.add_argument("--poll-seconds", type=float, default=5.0)
    miner.add_argument("--host", default="127.0.0.1")
    miner.add_argument("--port", type=int, default=8000, help="0 picks a free port (see --port-file)")
    miner.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    miner.add_argument("--open", action="store_true", help="serve unsigned requests (local users)")
    miner.add_argument("--keyfile", type=Path, help="JSON with the hotkey secret: the server's identity")
    miner.add_argument("--allow", default="", help="comma-separated hex hotkeys allowed to sign requests")
    miner.add_argument("--rate", type=float, default=20.0, help="requests per second per client (0: no limit)")
    miner.add_argument("--burst", type=float, default=40.0)
    miner.add_argument("--max-tokens-cap", type=int, help="largest max_tokens served (default: the context)")
    miner.add_argument("--max-body-bytes", type=int, default=1 << 20)
    miner.add_argument(
        "--adversary",
        default="honest",
        help="cheat for tests and the devnet: stale, other-model, random, truncated, quantized, replay",
    )
    miner.add_argument("--stale-checkpoint", type=Path, help="the older checkpoint the stale adversary serves")
    add_device_argument(miner)
    miner.set_defaults(func=run_miner)

    validate = sub.add_parser("validate", help="one validation round over miners: scores and u16 weights")
    add_checkpoint_arguments(validate)
    validate.add_argument("--miners", required=True, help="comma-separated miner URLs (uid = position)")
    validate.add_argument("--keyfile", type=Path, help="the validator's hotkey (default: a fresh one)")
    validate.add_argument("--challenges", type=int, default=4, help="challenges per miner")
    validate.add_argument("--seed", help="64 hex: the round seed (default: random)")
    add_device_argument(validate)
    validate.add_argument(
        "--dataset",
        type=Path,
        help="manifest.json whose held-out pages give the prompts (default: the Python stdlib in memory)",
    )
    validate.set_defaults(func=run_validate)


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, help="checkpoint file (safetensors)")
    parser.add_argument("--checkpoint-hash", help="64 hex: expected hash (fetched from the node if no file)")
    add_node_arguments(parser, datadir_required=False)


def resolve_checkpoint(args, client):
    """(checkpoint, hash): the file (checked against --checkpoint-hash), else by hash from the node,
    else the latest checkpoint on chain."""
    # lazy: keeps torch off this command's start-up
    from hashgrad.serve.checkpoints import fetch_checkpoint, get_chain_checkpoint_hash, load_checkpoint_file

    expected = parse_hex(args.checkpoint_hash, "--checkpoint-hash", size=32) if args.checkpoint_hash else None
    if args.checkpoint is not None:
        return load_checkpoint_file(args.checkpoint, expected)
    if client is None:
        raise WorkError("missing-checkpoint", "give --checkpoint FILE, or --datadir of a node to fetch it from")
    expected = expected or get_chain_checkpoint_hash(client)
    if expected is None:
        raise WorkError("missing-checkpoint", "no checkpoint recorded on chain yet")
    return fetch_checkpoint(client, expected)


def load_hotkey(path: Path | None):

    return RoleKeys.load(path).hotkey if path is not None else SigningKey.generate()


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s serve %(levelname)s %(message)s")


# ----------------------------------------------------------------------------- miner
def run_miner(args) -> int:
    # Function-local: torch loads only when this command runs, not for every `hashgrad` command.
    from hashgrad.serve.miner import ChainFollow, build_miner_backend, serve_miner
    from hashgrad.serve.server import InferenceServer, ServerConfig
    from hashgrad.work.miner import set_determinism_pins

    setup_logging()
    device = get_device(args)
    set_determinism_pins(threads=1, device=device)
    client = connect_from_args(args)
    if args.follow and client is None:
        raise WorkError("missing-node", "--follow reads the chain: give --datadir (and --rpcport) of a node")
    checkpoint, digest = resolve_checkpoint(args, client)
    older = load_older(args)
    hotkey = load_hotkey(args.keyfile).pubkey if args.keyfile else None
    allowed = frozenset(parse_hex(h, "--allow hotkey", size=32) for h in args.allow.split(",") if h) or None
    config = ServerConfig(
        open_access=args.open,
        max_body_bytes=args.max_body_bytes,
        max_tokens_cap=args.max_tokens_cap,
        rate=args.rate,
        burst=args.burst,
        hotkey=hotkey,
        allowed=allowed,
    )
    server = InferenceServer(build_miner_backend(args.adversary, checkpoint, older, device), config)

    def on_started(port: int) -> None:
        mode = "open" if args.open else "signed requests"
        log.info("serving %s (checkpoint %s, %s) on http://%s:%d", server.model_id, digest.hex(), mode, args.host, port)
        if args.port_file:
            args.port_file.write_text(f"{port}\n")

    follow = ChainFollow(client, args.adversary, args.poll_seconds, device) if args.follow else None
    try:
        asyncio.run(serve_miner(server, args.host, args.port, on_started, checkpoint, digest, follow))
    except KeyboardInterrupt:
        pass
    return 0


def load_older(args):
    if args.stale_checkpoint is None:
        return None
    # lazy: keeps torch off this command's start-up
    from hashgrad.serve.checkpoints import load_checkpoint_file

    return load_checkpoint_file(args.stale_checkpoint)[0]


# ----------------------------------------------------------------------------- validate
def run_validate(args) -> int:
    # lazy: keeps torch off this command's start-up
    from hashgrad.serve.engine import Engine
    from hashgrad.serve.gateway import Gateway, RoutedMiner
    from hashgrad.serve.validator import MinerEndpoint, get_heldout_texts, run_validation_round_blocking
    from hashgrad.work.miner import set_determinism_pins

    device = get_device(args)
    set_determinism_pins(threads=1, device=device)
    checkpoint, digest = resolve_checkpoint(args, connect_from_args(args))
    engine = Engine(checkpoint, digest, device=device)
    urls = [u for u in args.miners.split(",") if u]
    routed = [RoutedMiner(url) for url in urls]
    asyncio.run(discover(Gateway(routed, engine)))
    miners = [MinerEndpoint(uid, m.url, m.hotkey or bytes(32)) for uid, m in enumerate(routed)]
    seed = parse_hex(args.seed, "--seed", size=32) if args.seed else os.urandom(32)
    texts = get_heldout_texts(load_challenge_dataset(args.dataset, checkpoint.config.block_size), engine.codec)
    report = run_validation_round_blocking(miners, engine, load_hotkey(args.keyfile), seed, texts, args.challenges)
    for uid, url in enumerate(urls):
        verdicts = ",".join(o.verdict for o in report.outcomes[uid])
        print(f"uid {uid} {url}: score {report.scores[uid]:.3f} [{verdicts}]")
    print(
        json.dumps(
            {
                "checkpoint": digest.hex(),
                "scores": {str(k): v for k, v in report.scores.items()},
                "weights": [list(w) for w in report.weights],
            }
        )
    )
    return 0


async def discover(gateway) -> None:

    async with aiohttp.ClientSession() as session:
        await gateway.discover(session)


def load_challenge_dataset(manifest: Path | None, block_size: int):
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.data import build_stdlib_dataset, load_dataset

    return load_dataset(manifest) if manifest is not None else build_stdlib_dataset(max(4096, 2 * block_size))
