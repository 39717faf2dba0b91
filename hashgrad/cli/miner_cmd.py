"""`hashgrad miner`: run a training miner on a job until SIGTERM/SIGINT (see hashgrad.roles.miner)."""
from __future__ import annotations

from hashgrad.cli.roles_common import add_role_arguments, setup_role


def register(subparsers) -> None:
    parser = subparsers.add_parser("miner", help="run a training miner attached to a node")
    add_role_arguments(parser)
    parser.add_argument("--adversary", default="honest",
                        help="honest (default) or a cheating kind: lazy, noise, copycat, replay, poisoner, sandbagger")
    parser.set_defaults(func=run_miner)


def run_miner(args) -> int:
    from hashgrad.roles.miner import TrainingMiner
    from hashgrad.work.adversaries import KINDS

    if args.adversary not in KINDS:
        raise SystemExit(f"error: unknown-miner-kind: {args.adversary}; known: {', '.join(KINDS)}")
    client, keys, job, params, dataset, stop = setup_role(args, f"miner[{args.adversary}]")
    TrainingMiner(client, keys, job, params, dataset, args.adversary).run(stop)
    return 0
