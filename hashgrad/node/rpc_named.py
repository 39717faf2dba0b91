"""Named JSON-RPC parameters (`"params": {"blockhash": ..., "verbosity": 2}`, `bitcoin-cli -named`).

As Core's `transformNamedArguments`: each name is looked up in the method's argument list and put at
its position, positions not named are null (the method's default), and a name the method does not
have is refused with -8 "Unknown named parameter NAME". Methods Bitcoin Core (or Namecoin) has use
Core's argument names (CORE_ARG_NAMES); hashgrad's own methods use the names of their help line,
lower-cased (`getaddresshistory ADDRESS [LIMIT=100]` → address, limit).
"""

from __future__ import annotations

import re

from hashgrad.errors import RpcError
from hashgrad.node.rpc_params import RPC_INVALID_PARAMETER

CORE_ARG_NAMES: dict[str, tuple[str, ...]] = {
    "getblockhash": ("height",),
    "getblock": ("blockhash", "verbosity"),
    "getblockheader": ("blockhash", "verbose"),
    "getrawmempool": ("verbose", "mempool_sequence"),
    "getrawtransaction": ("txid", "verbose", "blockhash"),
    "gettransaction": ("txid",),
    "sendrawtransaction": ("hexstring", "maxfeerate"),
    "submitblock": ("hexdata", "dummy"),
    "getblocktemplate": ("template_request",),
    "generatetoaddress": ("nblocks", "address", "maxtries"),
    "getnetworkhashps": ("nblocks", "height"),
    "getblockstats": ("hash_or_height", "stats"),
    "gettxout": ("txid", "n", "include_mempool"),
    "decoderawtransaction": ("hexstring", "iswitness"),
    "validateaddress": ("address",),
    "estimatesmartfee": ("conf_target", "estimate_mode"),
    "waitfornewblock": ("timeout",),
    "waitforblock": ("blockhash", "timeout"),
    "waitforblockheight": ("height", "timeout"),
    "addnode": ("node", "command"),
    "getaddednodeinfo": ("node",),
    "disconnectnode": ("address", "nodeid"),
    "setnetworkactive": ("state",),
    "setban": ("subnet", "command", "bantime"),
    "stop": ("wait",),
    "help": ("command",),
    "createauxblock": ("address",),
    "submitauxblock": ("hash", "auxpow"),
    "getauxblock": ("hash", "auxpow"),
}
MAX_NAMED = 32
_HELP_ARG = re.compile(r"\[?([A-Z][A-Z0-9_]*)")


def get_arg_names(method: str, fn) -> tuple[str, ...]:
    if method in CORE_ARG_NAMES:
        return CORE_ARG_NAMES[method]
    doc = (fn.__doc__ or "").strip()
    head = doc.split(":", 1)[0].split()[1:] if doc else []  # "name ARG [OPT=1]: ..." -> ["ARG", "[OPT=1]"]
    return tuple(m.group(1).lower() for m in map(_HELP_ARG.match, head) if m)


def compute_positional(method: str, fn, named: dict) -> list:
    """The positional parameter list a named-parameter object stands for."""
    if len(named) > MAX_NAMED:
        raise RpcError("invalid-parameter", f"more than {MAX_NAMED} named parameters", RPC_INVALID_PARAMETER)
    names = get_arg_names(method, fn)
    params: list = []
    for name, value in named.items():
        if name not in names:
            raise RpcError("invalid-parameter", f"Unknown named parameter {name}", RPC_INVALID_PARAMETER)
        position = names.index(name)
        params += [None] * (position + 1 - len(params))
        params[position] = value
    return params
