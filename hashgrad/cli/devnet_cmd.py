"""`hashgrad devnet`: the main job — a local hashgrad network that trains a model, pays its miners
and shows it (see hashgrad.devnet.run for the steps)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from hashgrad.devnet.view import make_view
from hashgrad.errors import HashgradError

DEFAULT_OUT = Path("out/devnet")
ROUND_NETWORKS = {1: "devnet", 2: "devnet-rounds"}  # rounds per epoch of job 0 -> the network that has them


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "devnet",
        help="run a whole local network: nodes, block maker, miners and validators as processes",
        description="Starts nodes, a block maker, miners and validators as separate processes on 127.0.0.1, "
        "funds, registers and stakes them with real transactions, runs E epochs of job 0 (training "
        "the default model) through the chain, then stops everything and writes the results to --out.",
    )
    parser.add_argument("--miners", type=int, default=2, help="honest miners (default 2)")
    parser.add_argument("--validators", type=int, default=1, help="validators (default 1)")
    parser.add_argument(
        "--adversaries",
        default="noise",
        help="a count, or a comma list of kinds: lazy, noise, copycat, replay, poisoner, sandbagger "
        "(default: noise); 0 for none",
    )
    parser.add_argument(
        "--servers",
        type=int,
        default=0,
        help="inference miners serving the trained model on job 1, checked by an inference validator",
    )
    parser.add_argument(
        "--server-adversaries",
        default="",
        help="comma list of cheating servers: stale, other-model, random, truncated, quantized, replay",
    )
    parser.add_argument("--epochs", type=int, default=4, help="training epochs to run (default 4)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument(
        "--web",
        action=__import__("argparse").BooleanOptionalAction,
        default=True,
        help="serve the web explorer from node 0 (default on)",
    )
    parser.add_argument("--port-base", type=int, default=39500, help="first port used on 127.0.0.1 (default 39500)")
    parser.add_argument("--block-interval", type=float, default=2.0, help="seconds between blocks (default 2)")
    parser.add_argument("--checkpoint", type=Path, help="genesis checkpoint of job 0 (from `hashgrad model import`)")
    parser.add_argument("--dataset", type=Path, help="manifest of a prepared dataset (from `hashgrad data prepare`)")
    parser.add_argument(
        "--miner-kernel",
        choices=("default", "avx2", "avx512"),
        help="CPU kernel (ATEN_CPU_CAPABILITY) of the miners: their hardware class",
    )
    parser.add_argument(
        "--validator-kernel",
        choices=("default", "avx2", "avx512"),
        help="CPU kernel of the validators (another class than the miners': tolerance audits)",
    )
    parser.add_argument(
        "--audit-probability",
        type=float,
        help="the training validators replay-audit each update with this probability (default: the job's)",
    )
    parser.add_argument(
        "--rounds-per-epoch",
        type=int,
        choices=sorted(ROUND_NETWORKS),
        default=1,
        help="training rounds inside each epoch: 2 runs the devnet-rounds network, whose job 0 trains two "
        "rounds of 10 inner steps in each 88 s epoch (default 1: one round of 30 in 60 s)",
    )
    parser.set_defaults(func=run_devnet)


def parse_adversaries(text: str) -> tuple[str, ...]:
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.adversaries import ADVERSARY_KINDS

    text = text.strip()
    if text.isdigit():
        count = int(text)
        if count > len(ADVERSARY_KINDS) * 4:
            raise HashgradError("bad-adversaries", f"at most {len(ADVERSARY_KINDS) * 4} adversaries")
        return tuple(ADVERSARY_KINDS[i % len(ADVERSARY_KINDS)] for i in range(count))
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in ADVERSARY_KINDS]
    if unknown:
        raise HashgradError(
            "bad-adversaries", f"unknown kind(s) {', '.join(unknown)}; known: {', '.join(ADVERSARY_KINDS)}"
        )
    return kinds


def parse_server_adversaries(text: str) -> tuple[str, ...]:
    # lazy: keeps torch off this command's start-up
    from hashgrad.serve.adversaries import ADVERSARY_KINDS

    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in ADVERSARY_KINDS]
    if unknown:
        raise HashgradError(
            "bad-adversaries", f"unknown server kind(s) {', '.join(unknown)}; known: {', '.join(ADVERSARY_KINDS)}"
        )
    return kinds


def run_devnet(args) -> int:
    # lazy: keeps torch off this command's start-up
    from hashgrad.devnet.run import Devnet, DevnetConfig

    if not 1 <= args.miners <= 16 or not 1 <= args.validators <= 8 or not 1 <= args.epochs <= 1000:
        raise HashgradError("bad-devnet-size", "1-16 miners, 1-8 validators, 1-1000 epochs")
    if not 1024 <= args.port_base <= 65000 or args.block_interval <= 0:
        raise HashgradError("bad-devnet-option", "port base in 1024..65000, block interval > 0")
    if args.audit_probability is not None and not 0 <= args.audit_probability <= 1:
        raise HashgradError("bad-devnet-option", "audit probability in [0, 1]")
    if not 0 <= args.servers <= 8:
        raise HashgradError("bad-devnet-size", "0-8 servers")
    config = DevnetConfig(
        out=args.out,
        miners=args.miners,
        validators=args.validators,
        adversaries=parse_adversaries(args.adversaries),
        epochs=args.epochs,
        servers=args.servers,
        server_adversaries=parse_server_adversaries(args.server_adversaries),
        port_base=args.port_base,
        block_interval=args.block_interval,
        web=args.web,
        checkpoint=args.checkpoint,
        dataset=args.dataset,
        miner_kernel=args.miner_kernel,
        validator_kernel=args.validator_kernel,
        audit_probability=args.audit_probability,
        network=ROUND_NETWORKS[args.rounds_per_epoch],
    )

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt  # unwinds through Devnet.run's cleanup, which stops every child

    signal.signal(signal.SIGTERM, on_sigterm)
    view = make_view()
    final = Devnet(config, view).run()
    view.message(f"done: results in {config.out.resolve()} (summary.json, loss.png, rewards.png, final/)")
    print(
        json.dumps(
            {
                "height": final["height"],
                "checkpoint": final["checkpoint"],
                "heldout_loss": final["heldout_loss"],
                "out": str(config.out.resolve()),
            }
        )
    )
    return 0
