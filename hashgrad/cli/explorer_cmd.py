"""`hashgrad explorer ...`: serve the web explorer of one node until SIGTERM/SIGINT.

    hashgrad explorer --datadir NODE_DATADIR [--network N] [--rpcport R] [--rpcconnect HOST]
                      [--host 127.0.0.1] [--port P] [--live FILE]

The explorer reads the node's RPC cookie from NODE_DATADIR (the browser never sees it) and serves
the page and a read-only JSON API on http://HOST:P/ (loopback unless --host says otherwise).
`--live FILE` is the devnet's progress file (epochs, held-out loss, rewards per uid).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from hashgrad.chain.params import get_network
from hashgrad.cli.node_options import add_node_arguments
from hashgrad.errors import HashgradError
from hashgrad.node.client import connect_node
from hashgrad.web.node_gateway import NodeGateway
from hashgrad.web.server import ExplorerApp, serve_explorer

DEFAULT_PORT = 8080
RPC_TIMEOUT_S = 15.0  # a page waits on the node at most this long


def register(subparsers) -> None:
    parser = subparsers.add_parser("explorer", help="serve the web explorer of a node (read-only)")
    add_node_arguments(parser, timeout=RPC_TIMEOUT_S)
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT})")
    parser.add_argument("--live", type=Path, metavar="FILE", help="the devnet's live progress file (live.json)")
    parser.set_defaults(func=run_explorer)


def check_port(value: int, name: str, allow_zero: bool = False) -> int:
    if not (0 if allow_zero else 1) <= value <= 65535:
        raise HashgradError("bad-arguments", f"{name} out of range: {value}")
    return value


def run_explorer(args) -> int:

    if args.rpcport is not None:
        check_port(args.rpcport, "--rpcport")
    port = check_port(args.port, "--port", allow_zero=True)
    if not args.datadir.is_dir():
        raise HashgradError("bad-datadir", f"{args.datadir} is not a directory")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def connect():  # one client per gateway thread; the node may be down now: each call finds out
        return connect_node(args.network, args.datadir, args.rpcport, args.rpcconnect, args.rpcclienttimeout)

    app = ExplorerApp(get_network(args.network), NodeGateway(connect), args.live)
    try:
        asyncio.run(serve_explorer(app, args.host, port, ready=lambda url: print(f"explorer: {url}", flush=True)))
    except OSError as exc:
        raise HashgradError("explorer-bind-failed", f"{args.host}:{port}: {exc.strerror or exc}") from None
    return 0
