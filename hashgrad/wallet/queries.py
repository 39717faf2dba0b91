"""What a wallet asks a node: which network it runs, an account's balance and nonces, its history.

Replies come from outside, so they are checked before use (`bad-response` if a field is missing or
of the wrong type). The node is reached through `hashgrad.node.rpc_client.RpcClient`; a node that
does not answer is `node-unreachable`.
"""
from __future__ import annotations

from dataclasses import dataclass

from hashgrad.chain.params import ChainParams
from hashgrad.errors import RpcError, WalletError

DEFAULT_HISTORY_LIMIT = 100
ACCOUNT_INT_FIELDS = ("balance", "nonce", "pending_nonce", "pending_balance", "pending_txs", "height")


@dataclass(frozen=True)
class AccountSummary:
    """An account as the node sees it: at the tip, and after its own pending transactions."""

    address: str
    balance: int
    nonce: int
    pending_nonce: int
    pending_balance: int  # balance once the sender's pending transactions apply: what can be spent now
    pending_txs: int
    height: int


def check_node_network(client, params: ChainParams) -> None:
    """network-mismatch when the node runs another network than the wallet's."""
    info = client.call("getblockchaininfo")
    chain = info.get("chain") if isinstance(info, dict) else None
    if not isinstance(chain, str):
        raise RpcError("bad-response", "getblockchaininfo has no chain name")
    if chain != params.name:
        raise WalletError("network-mismatch", f"the node runs {chain}, the wallet is for {params.name}")


def get_account_summary(client, address: str) -> AccountSummary:
    reply = client.call("getaccount", address)
    if not isinstance(reply, dict):
        raise RpcError("bad-response", "getaccount did not return an object")
    values = {}
    for field in ACCOUNT_INT_FIELDS:
        value = reply.get(field)
        if type(value) is not int or value < 0:
            raise RpcError("bad-response", f"getaccount field {field!r} is not a non-negative integer")
        values[field] = value
    return AccountSummary(address=address, **values)


def get_history(client, address: str, limit: int = DEFAULT_HISTORY_LIMIT) -> list[dict]:
    """Pending then mined transactions touching `address`, newest first, as the node describes them."""
    reply = client.call("getaddresshistory", address, limit)
    if not isinstance(reply, list) or not all(isinstance(item, dict) for item in reply):
        raise RpcError("bad-response", "getaddresshistory did not return a list of objects")
    return reply
