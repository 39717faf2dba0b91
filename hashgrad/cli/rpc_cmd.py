"""`hashgrad rpc ...`: call a node's JSON-RPC method, the way bitcoin-cli does.

    hashgrad rpc --datadir DIR [--network N] [--rpcport R] [--rpcconnect HOST] METHOD [ARGS...]
    hashgrad rpc --rpccookiefile FILE --rpcport R METHOD [ARGS...]

Credentials come from the node's cookie file (`DIR/.cookie`, or `--rpccookiefile`); the port
defaults to the network's RPC port (`--network`, default regtest). Arguments are parsed as JSON when
they parse (numbers, true/false, objects), else passed as strings; parameters that are always strings
(hashes, hex, addresses) are never converted. The result prints as JSON (a string result bare, a null
result as nothing). Errors go to stderr: exit 1 for an RPC error, 2 when the node cannot be reached.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from hashgrad.chain.params import NETWORKS, get_network
from hashgrad.errors import RpcError

EXIT_RPC_ERROR = 1
EXIT_UNREACHABLE = 2

# Positions of parameters that stay strings even when they look like JSON (e.g. an all-digit hex).
STRING_PARAMS: dict[str, tuple[int, ...]] = {
    "getblock": (0,), "getblockheader": (0,), "sendrawtransaction": (0,), "submitblock": (0,),
    "getrawtransaction": (0,), "gettransaction": (0,), "getaccount": (0,), "getaddresshistory": (0,),
    "generatetoaddress": (1,), "addnode": (0, 1), "disconnectnode": (0,), "help": (0,),
    "createauxblock": (0,), "submitauxblock": (0, 1), "getauxblock": (0, 1),
    "putartifact": (0,), "getartifact": (0,), "hasartifact": (0,),
}


def register(subparsers) -> None:
    parser = subparsers.add_parser("rpc", help="call a node's JSON-RPC method (like bitcoin-cli)")
    parser.add_argument("--datadir", type=Path, help="the node's data directory (holds .cookie)")
    parser.add_argument("--rpccookiefile", type=Path, help="cookie file, instead of DIR/.cookie")
    parser.add_argument("--network", choices=sorted(NETWORKS), default="regtest", help="for the default port")
    parser.add_argument("--rpcport", type=int, help="default: the network's RPC port")
    parser.add_argument("--rpcconnect", default="127.0.0.1", help="node host (default 127.0.0.1)")
    parser.add_argument("--rpcclienttimeout", type=float, default=900.0, help="seconds (default 900)")
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
    from hashgrad.node.rpc_client import RpcClient, read_cookie

    if args.rpccookiefile is None and args.datadir is None:
        raise RpcError("bad-arguments", "give --datadir (or --rpccookiefile) so the cookie can be read", -8)
    port = args.rpcport if args.rpcport is not None else get_network(args.network).rpc_port
    if args.rpccookiefile is not None:
        user, password = read_cookie_file(args.rpccookiefile)
    else:
        user, password = read_cookie(args.datadir)
    return RpcClient(f"http://{args.rpcconnect}:{port}/", user, password, timeout=args.rpcclienttimeout)


def read_cookie_file(path: Path) -> tuple[str, str]:
    from hashgrad.node.rpc_client import COOKIE_FILE, read_cookie

    if path.name != COOKIE_FILE:  # read_cookie takes the folder; accept any file name here
        text = _read_small(path)
        user, sep, password = text.partition(":")
        if not sep:
            raise RpcError("node-unreachable", f"malformed cookie file {path}", -28)
        return user, password
    return read_cookie(path.parent)


def _read_small(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")[:1024].strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise RpcError("node-unreachable", f"cannot read cookie {path}: {exc}", -28) from None


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
