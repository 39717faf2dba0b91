"""`hashgrad metagraph JOB`: who holds each uid of a job and what the last epoch gave it, from the
node's `getmetagraph`, as a table (rich on a terminal, aligned plain text otherwise) or `--json`.

Also the node options shared with `hashgrad job` (`add_node_options`, `connect_node`): commands that
read the chain without a wallet name their network with --network.
"""
from __future__ import annotations

import argparse
import json
import sys

from hashgrad.chain.params import NETWORKS, get_network
from hashgrad.errors import RpcError
from hashgrad.wallet.amounts import format_amount

DEFAULT_NETWORK = "regtest"
COLUMNS = ("uid", "hotkey", "coldkey", "stake", "vpermit", "consensus", "incentive", "dividends", "trust",
           "emission", "total earned", "last update", "reg height")
NUMERIC = set(COLUMNS) - {"hotkey", "coldkey", "vpermit"}
INT_FIELDS = ("uid", "stake", "emission", "total_earned", "last_update", "registration_height")
SHARE_FIELDS = ("consensus", "incentive", "dividends", "trust")

METAGRAPH_DESCRIPTION = """\
The metagraph of a job: per uid its hotkey and coldkey (shortened addresses), stake (coins), whether
it holds a validator permit, and the outputs of the last epoch it took part in — consensus,
incentive, dividends and trust (shares in [0, 1]), emission (coins) — with its total earnings, the
height of its last update and of its registration. --json prints the node's getmetagraph result.
"""


def add_node_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", choices=sorted(NETWORKS), default=DEFAULT_NETWORK,
                        help=f"the node's network (default {DEFAULT_NETWORK})")
    parser.add_argument("--datadir", required=True, help="the node's datadir (holds its .cookie)")
    parser.add_argument("--rpcport", type=int, default=None, help="node RPC port (default: the network's)")
    parser.add_argument("--rpcconnect", default="127.0.0.1", help="node RPC host (default 127.0.0.1)")


def connect_node(args):
    """An RPC client for --datadir/--rpcport/--rpcconnect, checked to run --network."""
    from hashgrad.node.rpc_client import RpcClient
    from hashgrad.wallet.queries import check_node_network

    params = get_network(args.network)
    client = RpcClient.from_datadir(args.datadir, args.rpcport or params.rpc_port, args.rpcconnect)
    check_node_network(client, params)
    return client


def register(subparsers) -> None:
    parser = subparsers.add_parser("metagraph", help="a job's uids: keys, stake, consensus outputs, earnings",
                                   description=METAGRAPH_DESCRIPTION)
    parser.add_argument("job", type=int, help="job id")
    parser.add_argument("--json", action="store_true", help="print the getmetagraph result as JSON")
    add_node_options(parser)
    parser.set_defaults(func=run_metagraph)


def run_metagraph(args) -> int:
    from hashgrad.wallet.coordination import check_job_id

    check_job_id(args.job)
    result = connect_node(args).call("getmetagraph", args.job)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    rows = [format_row(uid) for uid in check_metagraph(result)]
    title = f"job {result['job']} at height {result['height']}: {len(rows)} uids"
    if sys.stdout.isatty():
        print_rich_table(title, rows)
    else:
        print(title)
        print(format_plain_table(rows))
    return 0


def check_metagraph(result) -> list[dict]:
    """The uid rows of a getmetagraph result; bad-response unless each has the fields shown."""
    if not isinstance(result, dict) or not isinstance(result.get("uids"), list):
        raise RpcError("bad-response", "getmetagraph did not return {job, height, uids}")
    for row in result["uids"]:
        if not isinstance(row, dict) or not all(type(row.get(f)) is int for f in INT_FIELDS) \
                or not all(isinstance(row.get(f), (int, float)) for f in SHARE_FIELDS) \
                or not all(isinstance(row.get(f), str) for f in ("address", "coldkey")) \
                or not isinstance(row.get("validator_permit"), bool):
            raise RpcError("bad-response", f"malformed metagraph row {str(row)[:200]}")
    return result["uids"]


def format_row(uid: dict) -> list[str]:
    return [str(uid["uid"]), shorten(uid["address"]), shorten(uid["coldkey"]), format_amount(uid["stake"]),
            "yes" if uid["validator_permit"] else "-",
            *(f"{uid[f]:.5f}" for f in SHARE_FIELDS),
            format_amount(uid["emission"]), format_amount(uid["total_earned"]),
            str(uid["last_update"]), str(uid["registration_height"])]


def shorten(address: str) -> str:
    """`rhg1qxyz...` as its first 9 and last 4 characters."""
    return address if len(address) <= 16 else f"{address[:9]}...{address[-4:]}"


def compute_column_widths(rows: list[list[str]]) -> list[int]:
    return [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(COLUMNS)]


def format_plain_table(rows: list[list[str]]) -> str:
    widths = compute_column_widths(rows)

    def line(cells) -> str:
        return "  ".join(cell.rjust(w) if name in NUMERIC else cell.ljust(w)
                         for cell, w, name in zip(cells, widths, COLUMNS)).rstrip()

    return "\n".join([line([c.upper() for c in COLUMNS]), *(line(r) for r in rows)])


def print_rich_table(title: str, rows: list[list[str]]) -> None:
    """A rich table; never narrower than its cells (a narrow terminal wraps lines, values stay whole)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD)
    for name in COLUMNS:
        table.add_column(name, justify="right" if name in NUMERIC else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    needed = sum(compute_column_widths(rows)) + 3 * len(COLUMNS) + 2
    console = Console()
    console.width = max(console.width, needed)
    console.print(table)
