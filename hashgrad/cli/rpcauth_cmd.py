"""`hashgrad rpcauth USER [PASSWORD]`: an `--rpcauth` line, as Bitcoin Core's share/rpcauth/rpcauth.py.

Prints `rpcauth=USER:SALT$HASH` for the node's options (or bitcoin.conf-style files) and the
password to give clients; a random 32-byte password is made when none is given.
"""

from __future__ import annotations

from hashgrad.node.rpc_auth import compute_rpcauth


def register(subparsers) -> None:
    parser = subparsers.add_parser("rpcauth", help="make an --rpcauth line (as Bitcoin Core's rpcauth.py)")
    parser.add_argument("user")
    parser.add_argument("password", nargs="?", help="default: a random one, printed")
    parser.set_defaults(func=run_rpcauth)


def run_rpcauth(args) -> int:
    line, password = compute_rpcauth(args.user, args.password)
    print(f"String to be appended to bitcoin.conf (or passed as --rpcauth):\nrpcauth={line}")
    print(f"Your password:\n{password}")
    return 0
