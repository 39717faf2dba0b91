"""What each explorer endpoint asks the node, composed from RPC calls (blocking: run in a worker thread).

Every function takes an `RpcClient` first and already-validated arguments (see `inputs.py`), and
returns the JSON object the page reads. Node errors pass through as RpcError (`not-found`,
`out-of-range`, `node-unreachable`...); replies are checked for the shape the page relies on.
"""
from __future__ import annotations

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.coordination_tx import CoordKind
from hashgrad.chain.params import ChainParams
from hashgrad.errors import HashgradError, RpcError

HISTORY_LIMIT = 50
MAX_PENDING_SHOWN = 20
MAX_BLOCK_TXS_SHOWN = 500
BLOCK_SUMMARY_FIELDS = ("height", "hash", "time", "nTx", "size", "auxpow", "difficulty", "confirmations")


def get_status(client, params: ChainParams) -> dict:
    """Height, best hash, supply, peers and mempool of the node, in one batched request."""
    info, supply, mempool, peers, pending = client.batch(
        [("getblockchaininfo",), ("getsupply",), ("getmempoolinfo",), ("getpeerinfo",), ("getrawmempool",)])
    info, supply, mempool = (_object(r, m) for r, m in ((info, "getblockchaininfo"), (supply, "getsupply"),
                                                         (mempool, "getmempoolinfo")))
    if info.get("chain") != params.name:
        raise HashgradError("network-mismatch", f"the node runs {info.get('chain')!r}, the explorer {params.name!r}")
    peer_count = None if isinstance(peers, RpcError) else len(_list(peers, "getpeerinfo"))
    pending = [] if isinstance(pending, RpcError) else _list(pending, "getrawmempool")
    return {"network": params.name, "height": info["blocks"], "bestblockhash": info["bestblockhash"],
            "time": info["time"], "difficulty": info["difficulty"], "chainwork": info["chainwork"],
            "supply": supply, "peers": peer_count,
            "mempool": {"size": mempool["size"], "bytes": mempool["bytes"], "txids": pending[:MAX_PENDING_SHOWN]}}


def get_recent_blocks(client, start: int | None, count: int) -> dict:
    """Summaries of `count` blocks of the active chain from height `start` (default: the tip) down."""
    tip = client.call("getblockcount")
    start = tip if start is None else min(start, tip)
    heights = list(range(start, max(start - count, -1), -1))
    hashes = client.batch([("getblockhash", h) for h in heights])
    found = [h for h in hashes if not isinstance(h, RpcError)]  # a reorg may shorten the chain meanwhile
    blocks = client.batch([("getblock", h, 1) for h in found])
    summaries = [{k: b.get(k) for k in BLOCK_SUMMARY_FIELDS} for b in blocks if isinstance(b, dict)]
    for summary in summaries:  # getblock decodes a merge-mined block's proof (Namecoin's form); a flag here
        summary["auxpow"] = bool(summary["auxpow"])
    return {"tip": tip, "blocks": summaries}


def get_block(client, params: ChainParams, ref: str | int) -> dict:
    """One block with its transactions decoded (at most MAX_BLOCK_TXS_SHOWN of them)."""
    block_hash = client.call("getblockhash", ref) if isinstance(ref, int) else ref
    block = _object(client.call("getblock", block_hash, 2), "getblock")
    txs = _list(block.get("tx"), "getblock")
    block["tx"] = [describe_tx(params, _object(tx, "getblock")) for tx in txs[:MAX_BLOCK_TXS_SHOWN]]
    block["tx_not_shown"] = max(0, len(txs) - MAX_BLOCK_TXS_SHOWN)
    return block


def get_transaction(client, params: ChainParams, txid: str) -> dict:
    return describe_tx(params, _object(client.call("gettransaction", txid), "gettransaction"))


def get_account(client, params: ChainParams, address: str) -> dict:
    """Balance, nonce, stake and registrations of an account, and its latest transactions."""
    account, history = client.batch([("getaccount", address), ("getaddresshistory", address, HISTORY_LIMIT)])
    account = _object(account, "getaccount")
    account["history"] = [describe_tx(params, _object(tx, "getaddresshistory"))
                          for tx in _list(history, "getaddresshistory")]
    return account


def describe_tx(params: ChainParams, tx: dict) -> dict:
    """A transaction as the node shows it, with the coordination kinds named (the node's view names only
    coinbase and transfer) and a hotkey also shown as its address, so the page can link to it."""
    kind = tx.get("kind")
    if isinstance(kind, str) and kind.startswith("kind-") and kind[5:].isdigit():
        number = int(kind[5:])
        if number in CoordKind._value2member_map_:
            tx["kind"] = CoordKind(number).name.lower()
    hotkey = tx.get("hotkey")
    if isinstance(hotkey, str) and len(hotkey) == 64:
        try:
            tx["hotkey_address"] = encode_address(params.hrp, bytes.fromhex(hotkey))
        except ValueError:
            pass
    return tx


def get_jobs(client, params: ChainParams) -> list[dict]:
    replies = client.batch([("getjob", job.job_id) for job in params.jobs])
    return [_object(r, "getjob") for r in replies]


def get_metagraph(client, job_id: int, live: dict) -> dict:
    """The job's metagraph, each uid with the role and adversary kind the devnet's live file gives its hotkey."""
    metagraph = _object(client.call("getmetagraph", job_id), "getmetagraph")
    rows_of = (lambda e: e["uids"]) if job_id == 0 else (lambda e: e.get("inference", {}).get("uids", []))
    known = {row["hotkey"]: row for epoch in live["epochs"] for row in rows_of(epoch)}
    for row in _list(metagraph.get("uids"), "getmetagraph"):
        source = known.get(row.get("hotkey"))
        row["role"] = source["role"] if source else None
        row["adversary"] = source["adversary"] if source else None
    return metagraph


def get_epoch(client, job_id: int, epoch: int) -> dict:
    return _object(client.call("getepoch", job_id, epoch), "getepoch")


def search(client, kind: str, value: str | int) -> dict:
    """Where a search box entry leads: {"kind": "block"|"tx"|"account", "id": ...}; not-found otherwise."""
    if kind == "height":
        return {"kind": "block", "id": client.call("getblockhash", value)}
    if kind == "address":
        return {"kind": "account", "id": value}
    try:
        client.call("getblockheader", value)
        return {"kind": "block", "id": value}
    except RpcError as exc:
        if exc.reason != "not-found":
            raise
    client.call("gettransaction", value)
    return {"kind": "tx", "id": value}


def _object(reply, method: str) -> dict:
    if isinstance(reply, RpcError):
        raise reply
    if not isinstance(reply, dict):
        raise RpcError("bad-response", f"{method} did not return an object")
    return reply


def _list(reply, method: str) -> list:
    if isinstance(reply, RpcError):
        raise reply
    if not isinstance(reply, list):
        raise RpcError("bad-response", f"{method} did not return a list")
    return reply
