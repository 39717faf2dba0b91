"""Entry point of the `hashgrad` command.

Each subcommand lives in its own module under `hashgrad.cli` and exposes
`register(subparsers)`, which adds its parser and sets `func` to a callable taking the parsed
arguments and returning an exit code. Modules are imported lazily by name so that a command that
needs torch does not make `hashgrad btc ...` pay for importing it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from hashgrad.cli.node_options import DEFAULT_NETWORK
from hashgrad.errors import HashgradError

# (subcommand, module that registers it); order is the order shown in --help.
SUBCOMMANDS: list[tuple[str, str]] = [
    ("btc", "hashgrad.cli.btc_cmd"),
    ("incentive", "hashgrad.cli.incentive_cmd"),
    ("auxpow", "hashgrad.cli.auxpow_cmd"),
    ("node", "hashgrad.cli.node_cmd"),
    ("rpc", "hashgrad.cli.rpc_cmd"),
    ("rpcauth", "hashgrad.cli.rpcauth_cmd"),
    ("wallet", "hashgrad.cli.wallet_cmd"),
    ("stake", "hashgrad.cli.stake_cmd"),
    ("weights", "hashgrad.cli.weights_cmd"),
    ("metagraph", "hashgrad.cli.metagraph_cmd"),
    ("job", "hashgrad.cli.job_cmd"),
    ("work", "hashgrad.cli.work_cmd"),
    ("miner", "hashgrad.cli.miner_cmd"),
    ("validator", "hashgrad.cli.validator_cmd"),
    ("devnet", "hashgrad.cli.devnet_cmd"),
    ("explorer", "hashgrad.cli.explorer_cmd"),
    ("serve", "hashgrad.cli.serve_cmd"),
    ("generate", "hashgrad.cli.generate_cmd"),
    ("model", "hashgrad.cli.model_cmd"),
    ("data", "hashgrad.cli.data_cmd"),
]


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hashgrad",
        description="hashgrad: a Bitcoin-compatible, merge-minable ledger that pays people to train and serve "
        "open models. Start with `hashgrad devnet` (the whole network on this machine).",
        epilog=f"Every command's --network defaults to {DEFAULT_NETWORK}; commands that talk to a node take "
        "--datadir (the node's, for its RPC cookie), --rpcport, --rpcconnect and --rpcclienttimeout.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = argv[0] if argv and not argv[0].startswith("-") else None
    for name, module_name in SUBCOMMANDS:
        if wanted is not None and wanted != name:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # a subcommand whose module is not written yet
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HashgradError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
