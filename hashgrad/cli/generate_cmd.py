"""`hashgrad generate "prompt"`: text from the network's miners, through a gateway that checks it.

    hashgrad generate "def fib(n):" --max-tokens 40 --miners http://127.0.0.1:8000,http://127.0.0.1:8001
    hashgrad generate "import " --miners URL --checkpoint ckpt.safetensors --temperature 0.8 --seed 7

Miners are ranked by job 1's incentive when a node is named (--datadir), and asked best first;
the answer is verified by recomputation (a fraction --spot-check of the time) when the gateway has
the checkpoint (--checkpoint FILE, or fetched by hash from the node); a miner that errs or fails
the check is skipped and the next one asked. The completion goes to stdout, the route to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp

from hashgrad.cli.node_options import add_node_arguments, connect_from_args
from hashgrad.cli.serve_cmd import load_hotkey
from hashgrad.node.replies import Metagraph

INFER_JOB = 1


def register(subparsers) -> None:
    parser = subparsers.add_parser("generate", help="generate text from the network's miners (verified)")
    parser.add_argument("prompt")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (0: a random one, printed)")
    parser.add_argument("--miners", required=True, help="comma-separated miner URLs")
    parser.add_argument("--checkpoint", type=Path, help="checkpoint to verify answers with")
    parser.add_argument("--spot-check", type=float, default=1.0, help="fraction of answers verified")
    parser.add_argument("--keyfile", type=Path, help="hotkey to sign requests with (default: a fresh one)")
    parser.add_argument("--json", action="store_true", help="print the answer and its route as JSON")
    add_node_arguments(parser, datadir_required=False)
    parser.set_defaults(func=run_generate)


def run_generate(args) -> int:
    # lazy: keeps torch off this command's start-up
    from hashgrad.serve.engine import SamplingParams
    from hashgrad.serve.gateway import Gateway, RoutedMiner
    from hashgrad.work.miner import set_determinism_pins

    set_determinism_pins(threads=1)
    client = connect_from_args(args)
    engine = load_verifier(args, client)
    miners = [RoutedMiner(url) for url in args.miners.split(",") if url]
    gateway = Gateway(miners, engine, load_hotkey(args.keyfile), args.spot_check)
    params = SamplingParams(float(args.temperature), args.top_k, float(args.top_p), args.seed).check()
    answer = asyncio.run(complete(gateway, client, args.prompt, args.max_tokens, params))
    if args.json:
        print(
            json.dumps(
                {
                    "text": answer.text,
                    "token_ids": list(answer.tokens),
                    "miner": answer.url,
                    "verified": answer.verified,
                    "seed": answer.seed,
                    "checkpoint": answer.fingerprint,
                    "attempts": [[a.url, a.outcome] for a in answer.attempts],
                }
            )
        )
    else:
        print(args.prompt + answer.text)
        route = " -> ".join(f"{a.url} ({a.outcome})" for a in answer.attempts)
        extra = "" if params.is_greedy else f", seed {answer.seed}"
        print(f"[{route}; {'verified' if answer.verified else 'NOT verified'}{extra}]", file=sys.stderr)
    return 0


def load_verifier(args, client):
    """The engine the gateway verifies with: --checkpoint, else the chain's checkpoint, else None."""
    # lazy: keeps torch off this command's start-up
    from hashgrad.serve.checkpoints import fetch_checkpoint, get_chain_checkpoint_hash, load_checkpoint_file
    from hashgrad.serve.engine import Engine

    if args.checkpoint is not None:
        return Engine(*load_checkpoint_file(args.checkpoint))
    if client is not None and (digest := get_chain_checkpoint_hash(client)) is not None:
        return Engine(*fetch_checkpoint(client, digest))
    print("warning: no checkpoint to verify with (--checkpoint or --datadir); answers are unverified", file=sys.stderr)
    return None


async def complete(gateway, client, prompt: str, max_tokens: int, params):

    async with aiohttp.ClientSession() as session:
        await gateway.discover(session)
    if client is not None:
        apply_incentives(gateway.miners, await asyncio.to_thread(client.get_metagraph, INFER_JOB))
    return await gateway.complete(prompt, max_tokens, params)


def apply_incentives(miners, metagraph: Metagraph) -> None:
    """Rank by job 1's on-chain incentive, matched through the hotkey each miner announces."""
    by_hotkey = {neuron.hotkey: neuron.incentive for neuron in metagraph.uids}
    for miner in miners:
        if miner.hotkey is not None:
            miner.incentive = by_hotkey.get(miner.hotkey, 0.0)
