"""`hashgrad node ...`: run a hashgrad node (the bitcoind of hashgrad) until SIGTERM/SIGINT or `stop`.

    hashgrad node --network regtest --datadir DIR [--port P] [--bind HOST] [--rpcport R]
                  [--rpcbind HOST] [--connect HOST:PORT ...] [--maxconnections N]
                  [--mine-interval S --payout ADDRESS] [--[no-]autoconnect] [--rest] [--debug]
                  [--rpcuser U --rpcpassword P] [--rpcauth USER:SALT$HASH ...] [--blocknotify CMD]
                  [--zmqpubhashblock|--zmqpubhashtx|--zmqpubrawblock|--zmqpubrawtx tcp://HOST:PORT]

Bitcoin Core's spellings `-rpcuser=U`, `-blocknotify=CMD`, `-zmqpubhashblock=tcp://...` work too.

DIR is the network's own data directory: `DIR/chain.sqlite`, `DIR/.cookie` (RPC credentials),
`DIR/node.log`. P2P listens on all interfaces by default (`--bind` to narrow it); RPC on 127.0.0.1
unless `--rpcbind` says otherwise. Exit code 0 after a clean stop, 1 when the node cannot start.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from hashgrad.chain.bech32 import decode_address
from hashgrad.chain.params import get_network
from hashgrad.cli.node_options import add_network_argument
from hashgrad.errors import HashgradError
from hashgrad.node.daemon import Node, NodeConfig
from hashgrad.node.rpc_auth import parse_rpcauth
from hashgrad.node.zmq_pub import ZMQ_TOPICS, check_zmq_address

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def register(subparsers) -> None:
    parser = subparsers.add_parser("node", help="run a hashgrad node (P2P, JSON-RPC, optional block maker)")
    add_network_argument(parser)
    parser.add_argument("--datadir", type=Path, required=True, help="this network's data directory")
    parser.add_argument("--port", type=int, help="P2P port (default: the network's)")
    parser.add_argument("--bind", default="0.0.0.0", help="P2P listen address (default 0.0.0.0)")
    parser.add_argument("--rpcport", type=int, help="JSON-RPC port (default: the network's)")
    parser.add_argument("--rpcbind", default="127.0.0.1", help="JSON-RPC listen address (default 127.0.0.1)")
    parser.add_argument(
        "--connect", action="append", default=[], metavar="HOST:PORT", help="peer to keep connected (repeatable)"
    )
    parser.add_argument("--maxconnections", type=int, default=32)
    parser.add_argument("--mine-interval", type=float, metavar="S", help="regtest/devnet: make a block every S seconds")
    parser.add_argument("--payout", metavar="ADDRESS", help="address the block maker pays")
    parser.add_argument(
        "--autoconnect",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="connect to gossiped addresses to fill outbound slots (default: on, off on regtest)",
    )
    parser.add_argument("--rest", action="store_true", help="serve the read-only REST view on the RPC port")
    parser.add_argument("--rpcuser", "-rpcuser", help="JSON-RPC user name (with --rpcpassword; no cookie then)")
    parser.add_argument("--rpcpassword", "-rpcpassword", help="JSON-RPC password")
    parser.add_argument(
        "--rpcauth",
        "-rpcauth",
        action="append",
        default=[],
        metavar="USER:SALT$HASH",
        help="a line printed by Bitcoin Core's rpcauth.py (or `hashgrad rpcauth`); repeatable",
    )
    parser.add_argument(
        "--blocknotify",
        "-blocknotify",
        metavar="CMD",
        help="run CMD (a shell command) on every new best block, %%s replaced by its hash",
    )
    for topic in ZMQ_TOPICS:
        parser.add_argument(
            f"--zmqpub{topic}",
            f"-zmqpub{topic}",
            metavar="ADDRESS",
            help=f"publish {topic} notifications on ADDRESS (tcp://HOST:PORT), as bitcoind",
        )
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    parser.set_defaults(func=run_node)


def parse_peer(text: str, default_port: int) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise HashgradError("bad-connect", f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def build_config(args, params):

    if args.mine_interval is not None and args.payout is None:
        raise HashgradError("bad-arguments", "--mine-interval needs --payout (the address the block maker pays)")
    if args.mine_interval is not None and not params.mine_on_demand:
        raise HashgradError("mining-not-allowed", f"--mine-interval is for regtest/devnet, not {params.name}")
    if args.mine_interval is not None and args.mine_interval <= 0:
        raise HashgradError("bad-mine-interval", "--mine-interval must be positive")
    if not 0 <= args.maxconnections <= 1000:
        raise HashgradError("bad-arguments", "--maxconnections out of range [0, 1000]")
    payout = decode_address(params.hrp, args.payout) if args.payout else None
    if (args.rpcuser is None) != (args.rpcpassword is None):
        raise HashgradError("bad-arguments", "--rpcuser and --rpcpassword go together")
    for line in args.rpcauth:
        parse_rpcauth(line)  # refuse a malformed line at start, not at the first call
    zmq_pub = {topic: getattr(args, f"zmqpub{topic}") for topic in ZMQ_TOPICS if getattr(args, f"zmqpub{topic}")}
    for address in zmq_pub.values():
        check_zmq_address(address)
    return NodeConfig(
        p2p_host=args.bind,
        p2p_port=args.port,
        rpc_host=args.rpcbind,
        rpc_port=args.rpcport,
        connect=[parse_peer(c, params.p2p_port) for c in args.connect],
        max_peers=args.maxconnections,
        mine_interval_s=args.mine_interval,
        payout=payout,
        rest=args.rest,
        auto_connect=args.autoconnect if args.autoconnect is not None else params.name != "regtest",
        rpc_user=args.rpcuser,
        rpc_password=args.rpcpassword,
        rpc_auth=list(args.rpcauth),
        block_notify=args.blocknotify,
        zmq_pub=zmq_pub,
    )


def setup_logging(datadir: Path, debug: bool) -> None:
    datadir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    formatter = logging.Formatter(LOG_FORMAT)
    for handler in (logging.FileHandler(datadir / "node.log"), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def run_node(args) -> int:

    params = get_network(args.network)
    config = build_config(args, params)
    setup_logging(args.datadir, args.debug)
    node = Node(params, args.datadir, config)
    asyncio.run(_serve(node))
    return 0


async def _serve(node) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, node.request_stop)
    await node.run()
