"""`hashgrad explorer ...`: serve the web explorer of one node until SIGTERM/SIGINT.

    hashgrad explorer --datadir NODE_DATADIR [--rpcport R] [--network devnet] [--host 127.0.0.1]
                      [--port P] [--live FILE]

The explorer reads the node's RPC cookie from NODE_DATADIR (the browser never sees it) and serves
the page and a read-only JSON API on http://HOST:P/ (loopback unless --host says otherwise).
`--live FILE` is the devnet's progress file (epochs, held-out loss, rewards per uid).
"""
from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from hashgrad.chain.params import NETWORKS, get_network
from hashgrad.errors import HashgradError

DEFAULT_PORT = 8080


def register(subparsers) -> None:
    parser = subparsers.add_parser("explorer", help="serve the web explorer of a node (read-only)")
    parser.add_argument("--datadir", type=Path, required=True, help="the node's data directory (holds its .cookie)")
    parser.add_argument("--network", choices=sorted(NETWORKS), default="devnet")
    parser.add_argument("--rpcport", type=int, help="the node's JSON-RPC port (default: the network's)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT})")
    parser.add_argument("--live", type=Path, metavar="FILE", help="the devnet's live progress file (live.json)")
    parser.set_defaults(func=run_explorer)


def check_port(value: int, name: str, allow_zero: bool = False) -> int:
    if not (0 if allow_zero else 1) <= value <= 65535:
        raise HashgradError("bad-arguments", f"{name} out of range: {value}")
    return value


def run_explorer(args) -> int:
    from hashgrad.web.node_gateway import NodeGateway
    from hashgrad.web.server import ExplorerApp, serve_explorer

    params = get_network(args.network)
    rpc_port = check_port(args.rpcport if args.rpcport is not None else params.rpc_port, "--rpcport")
    port = check_port(args.port, "--port", allow_zero=True)
    if not args.datadir.is_dir():
        raise HashgradError("bad-datadir", f"{args.datadir} is not a directory")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = ExplorerApp(params, NodeGateway(args.datadir, rpc_port), args.live)
    try:
        asyncio.run(serve_explorer(app, args.host, port, ready=lambda url: print(f"explorer: {url}", flush=True)))
    except OSError as exc:
        raise HashgradError("explorer-bind-failed", f"{args.host}:{port}: {exc.strerror or exc}") from None
    return 0
