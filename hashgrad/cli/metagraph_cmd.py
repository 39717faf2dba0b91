"""`hashgrad metagraph JOB`: who holds each uid of a job and what the last epoch gave it, from the
node's `getmetagraph` (checked by `hashgrad.node.replies`), as a table (rich on a terminal, aligned
plain text otherwise) or `--json`.
"""

from __future__ import annotations

import json
import sys

from rich import box
from rich.console import Console
from rich.table import Table

from hashgrad.cli.node_options import add_node_arguments, connect_from_args
from hashgrad.node.replies import Neuron
from hashgrad.wallet.amounts import format_amount
from hashgrad.wallet.coordination import check_job_id

COLUMNS = (
    "uid",
    "hotkey",
    "coldkey",
    "stake",
    "vpermit",
    "consensus",
    "incentive",
    "dividends",
    "trust",
    "emission",
    "total earned",
    "last update",
    "reg height",
)
NUMERIC = set(COLUMNS) - {"hotkey", "coldkey", "vpermit"}

METAGRAPH_DESCRIPTION = """\
The metagraph of a job: per uid its hotkey and coldkey (shortened addresses), stake (coins), whether
it holds a validator permit, and the outputs of the last epoch it took part in — consensus,
incentive, dividends and trust (shares in [0, 1]), emission (coins) — with its total earnings, the
height of its last update and of its registration. --json prints the node's getmetagraph result.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "metagraph", help="a job's uids: keys, stake, consensus outputs, earnings", description=METAGRAPH_DESCRIPTION
    )
    parser.add_argument("job", type=int, help="job id")
    parser.add_argument("--json", action="store_true", help="print the getmetagraph result as JSON")
    add_node_arguments(parser)
    parser.set_defaults(func=run_metagraph)


def run_metagraph(args) -> int:

    check_job_id(args.job)
    metagraph = connect_from_args(args).get_metagraph(args.job)
    if args.json:
        print(json.dumps(metagraph.json, indent=2))
        return 0
    rows = [format_row(neuron) for neuron in metagraph.uids]
    title = f"job {metagraph.job} at height {metagraph.height}: {len(rows)} uids"
    if sys.stdout.isatty():
        print_rich_table(title, rows)
    else:
        print(title)
        print(format_plain_table(rows))
    return 0


def format_row(uid: Neuron) -> list[str]:
    return [
        str(uid.uid),
        shorten(uid.address),
        shorten(uid.coldkey),
        format_amount(uid.stake),
        "yes" if uid.validator_permit else "-",
        *(f"{share:.5f}" for share in (uid.consensus, uid.incentive, uid.dividends, uid.trust)),
        format_amount(uid.emission),
        format_amount(uid.total_earned),
        str(uid.last_update),
        str(uid.registration_height),
    ]


def shorten(address: str) -> str:
    """`rhg1qxyz...` as its first 9 and last 4 characters."""
    return address if len(address) <= 16 else f"{address[:9]}...{address[-4:]}"


def compute_column_widths(rows: list[list[str]]) -> list[int]:
    return [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(COLUMNS)]


def format_plain_table(rows: list[list[str]]) -> str:
    widths = compute_column_widths(rows)

    def line(cells) -> str:
        return "  ".join(
            cell.rjust(w) if name in NUMERIC else cell.ljust(w) for cell, w, name in zip(cells, widths, COLUMNS)
        ).rstrip()

    return "\n".join([line([c.upper() for c in COLUMNS]), *(line(r) for r in rows)])


def print_rich_table(title: str, rows: list[list[str]]) -> None:
    """A rich table; never narrower than its cells (a narrow terminal wraps lines, values stay whole)."""

    table = Table(title=title, box=box.SIMPLE_HEAD)
    for name in COLUMNS:
        table.add_column(name, justify="right" if name in NUMERIC else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    needed = sum(compute_column_widths(rows)) + 3 * len(COLUMNS) + 2
    console = Console()
    console.width = max(console.width, needed)
    console.print(table)
