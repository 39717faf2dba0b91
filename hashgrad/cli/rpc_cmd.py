"""`hashgrad rpc ...`: call a node's JSON-RPC method, the way bitcoin-cli does.

    hashgrad rpc --datadir DIR [--network N] [--rpcport R] [--rpcconnect HOST] [--rpcclienttimeout S] METHOD [ARGS...]
    hashgrad rpc --rpccookiefile FILE --rpcport R METHOD [ARGS...]

Credentials come from the node's cookie file (`DIR/.cookie`, or `--rpccookiefile`); the port
defaults to the network's RPC port (`--network`, default regtest, as every command's). Arguments are parsed as JSON when
they parse (numbers, true/false, objects), else passed as strings; parameters that are always strings
(hashes, hex, addresses) are never converted. The result prints as JSON (a string result bare, a null
result as nothing). Errors go to stderr: exit 1 for an RPC error, 2 when the node cannot be reached.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hashgrad.cli.node_options import add_node_arguments, connect_from_args
from hashgrad.errors import RpcError

EXIT_RPC_ERROR = 1
EXIT_UNREACHABLE = 2
RPC_CLIENT_TIMEOUT_S = 900.0  # as bitcoin-cli: long calls (generatetoaddress many blocks) may take minutes

# Positions of parameters that stay strings even when they look like JSON (e.g. an all-digit hex).
STRING_PARAMS: dict[str, tuple[int, ...]] = {
    "getblock": (0,),
    "getblockheader": (0,),
    "sendrawtransaction": (0,),
    "submitblock": (0,),
    "getrawtransaction": (0,),
    "gettransaction": (0,),
    "getaccount": (0,),
    "getaddresshistory": (0,),
    "generatetoaddress": (1,),
    "addnode": (0, 1),
    "disconnectnode": (0,),
    "help": (0,),
    "createauxblock": (0,),
    "submitauxblock": (0, 1),
    "getauxblock": (0, 1),
    "putartifact": (0,),
    "getartifact": (0,),
    "hasartifact": (0,),
}


def register(subparsers) -> None:
    parser = subparsers.add_parser("rpc", help="call a node's JSON-RPC method (like bitcoin-cli)")
    add_node_arguments(parser, datadir_required=False, timeout=RPC_CLIENT_TIMEOUT_S)
    parser.add_argument("--rpccookiefile", type=Path, help="cookie file, instead of DIR/.cookie")
    parser.add_argument("method")
    parser.add_argument("args", nargs="*")
    parser.set_defaults(func=run_rpc)


def parse_args_for(method: str, raw_args: list[str]) -> list:
    keep = STRING_PARAMS.get(method, ())
    params = []
    for i, text in enumerate(raw_args):
        if i in keep:
            params.append(text)
            continue
        try:
            params.append(json.loads(text))
        except ValueError:
            params.append(text)
    return params


def make_client(args):
    """A client of the node the options name; the network only gives the default port (no check)."""
    if args.rpccookiefile is None and args.datadir is None:
        raise RpcError("bad-arguments", "give --datadir (or --rpccookiefile) so the cookie can be read", -8)
    return connect_from_args(args, check_network=False, cookie_file=args.rpccookiefile)


def format_result(result) -> str | None:
    if result is None:
        return None
    if isinstance(result, str):
        return result
    return json.dumps(result, indent=2)


def run_rpc(args) -> int:
    try:
        client = make_client(args)
        result = client.call(args.method, *parse_args_for(args.method, args.args))
    except RpcError as exc:
        print(f"error: {exc} (code {exc.code})", file=sys.stderr)
        return EXIT_UNREACHABLE if exc.reason == "node-unreachable" else EXIT_RPC_ERROR
    text = format_result(result)
    if text is not None:
        print(text)
    return 0
