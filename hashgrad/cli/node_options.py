"""The options every command that talks to a node shares, the one default network, and the one way
a command connects: `add_node_arguments` puts --network/--datadir/--rpcport/--rpcconnect/
--rpcclienttimeout on a parser, `connect_from_args` turns them into a `NodeClient`.

Every command's --network defaults to DEFAULT_NETWORK (regtest, the network the README's by-hand
examples run); the devnet passes --network devnet to every process it starts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hashgrad.chain.params import NETWORKS
from hashgrad.node.client import DEFAULT_RPC_HOST, NodeClient, connect_node
from hashgrad.node.rpc_client import DEFAULT_TIMEOUT_S

DEFAULT_NETWORK = "regtest"


def add_network_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--network", choices=sorted(NETWORKS), default=DEFAULT_NETWORK, help=f"the network (default {DEFAULT_NETWORK})"
    )


def add_node_arguments(
    parser: argparse.ArgumentParser,
    *,
    datadir_required: bool = True,
    network: bool = True,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> None:
    """The node-connection options; `network=False` where the network comes from elsewhere (a wallet)."""
    if network:
        add_network_argument(parser)
    parser.add_argument(
        "--datadir", type=Path, required=datadir_required, help="the node's data directory (holds its RPC .cookie)"
    )
    parser.add_argument("--rpcport", type=int, default=None, help="the node's RPC port (default: the network's)")
    parser.add_argument(
        "--rpcconnect",
        default=DEFAULT_RPC_HOST,
        metavar="HOST",
        help=f"the node's RPC host (default {DEFAULT_RPC_HOST})",
    )
    parser.add_argument(
        "--rpcclienttimeout",
        type=float,
        default=timeout,
        metavar="SECONDS",
        help=f"seconds to wait for a reply (default {timeout:g})",
    )


def connect_from_args(
    args, network: str | None = None, check_network: bool = True, cookie_file: Path | None = None
) -> NodeClient | None:
    """A client of the node the parsed options name (None when --datadir was optional and not given),
    checked to run `network` (default --network) unless check_network is False."""
    if args.datadir is None and cookie_file is None:
        return None
    client = connect_node(
        network or args.network, args.datadir, args.rpcport, args.rpcconnect, args.rpcclienttimeout, cookie_file
    )
    if check_network:
        client.check_network()
    return client
