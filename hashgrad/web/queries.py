"""What each explorer endpoint asks the node, composed from RPC calls (blocking: run in a worker thread).

Every function takes a `NodeClient` first and already-validated arguments (see `inputs.py`), and
returns the JSON object the page reads. Node errors pass through as RpcError (`not-found`,
`out-of-range`, `node-unreachable`...). Replies the explorer acts on come typed from the client
(checked in `hashgrad.node.replies`); those it only shows are checked there for the shape the page
relies on and passed on as the node sent them.
"""

from __future__ import annotations

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.coordination_tx import CoordKind
from hashgrad.chain.encoding import parse_hex
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.params import ChainParams
from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.client import NodeClient
from hashgrad.node.replies import get_list, get_object, parse_chain_info

HISTORY_LIMIT = 50
MAX_PENDING_SHOWN = 20
MAX_BLOCK_TXS_SHOWN = 500
BLOCK_SUMMARY_FIELDS = ("height", "hash", "time", "nTx", "size", "auxpow", "difficulty", "confirmations")


def get_status(client: NodeClient, params: ChainParams) -> dict:
    """Height, best hash, supply, peers and mempool of the node, in one batched request."""
    info, supply, mempool, peers, pending = client.batch(
        [("getblockchaininfo",), ("getsupply",), ("getmempoolinfo",), ("getpeerinfo",), ("getrawmempool",)]
    )
    chain = parse_chain_info(info)
    info, supply, mempool = (
        get_object(r, m) for r, m in ((info, "getblockchaininfo"), (supply, "getsupply"), (mempool, "getmempoolinfo"))
    )
    if chain.chain != params.name:
        raise HashgradError("network-mismatch", f"the node runs {chain.chain!r}, the explorer {params.name!r}")
    peer_count = None if isinstance(peers, RpcError) else len(get_list(peers, "getpeerinfo"))
    pending = [] if isinstance(pending, RpcError) else get_list(pending, "getrawmempool")
    return {
        "network": params.name,
        "height": chain.blocks,
        "bestblockhash": chain.best_hash.hex(),
        "time": info["time"],
        "difficulty": info["difficulty"],
        "chainwork": info["chainwork"],
        "supply": supply,
        "peers": peer_count,
        "mempool": {"size": mempool["size"], "bytes": mempool["bytes"], "txids": pending[:MAX_PENDING_SHOWN]},
    }


def get_recent_blocks(client: NodeClient, start: int | None, count: int) -> dict:
    """Summaries of `count` blocks of the active chain from height `start` (default: the tip) down."""
    tip = client.get_block_count()
    start = tip if start is None else min(start, tip)
    heights = list(range(start, max(start - count, -1), -1))
    hashes = client.batch([("getblockhash", h) for h in heights])
    found = [h for h in hashes if not isinstance(h, RpcError)]  # a reorg may shorten the chain meanwhile
    blocks = client.batch([("getblock", h, 1) for h in found])
    summaries = [{k: b.get(k) for k in BLOCK_SUMMARY_FIELDS} for b in blocks if isinstance(b, dict)]
    for summary in summaries:  # getblock decodes a merge-mined block's proof (Namecoin's form); a flag here
        summary["auxpow"] = bool(summary["auxpow"])
    return {"tip": tip, "blocks": summaries}


def get_block(client: NodeClient, params: ChainParams, ref: str | int) -> dict:
    """One block with its transactions decoded (at most MAX_BLOCK_TXS_SHOWN of them)."""
    block_hash = hash_to_display(client.get_block_hash(ref)) if isinstance(ref, int) else ref
    block = get_object(client.call("getblock", block_hash, 2), "getblock")
    txs = get_list(block.get("tx"), "getblock")
    block["tx"] = [describe_tx(params, get_object(tx, "getblock")) for tx in txs[:MAX_BLOCK_TXS_SHOWN]]
    block["tx_not_shown"] = max(0, len(txs) - MAX_BLOCK_TXS_SHOWN)
    return block


def get_transaction(client: NodeClient, params: ChainParams, txid: str) -> dict:
    return describe_tx(params, get_object(client.call("gettransaction", txid), "gettransaction"))


def get_account(client: NodeClient, params: ChainParams, address: str) -> dict:
    """Balance, nonce, stake and registrations of an account, and its latest transactions."""
    account = dict(client.get_account(address).json)
    account["history"] = [describe_tx(params, tx) for tx in client.get_address_history(address, HISTORY_LIMIT)]
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
    try:
        tx["hotkey_address"] = encode_address(params.hrp, parse_hex(hotkey, "hotkey", size=32))
    except HashgradError:
        pass  # no hotkey, or not one a link can be made to
    return tx


def get_jobs(client: NodeClient, params: ChainParams) -> list[dict]:
    return [client.get_job(job.job_id).json for job in params.jobs]


def get_metagraph(client: NodeClient, job_id: int, live: dict) -> dict:
    """The job's metagraph, each uid with the role and adversary kind the devnet's live file gives its hotkey."""
    metagraph = client.get_metagraph(job_id).json
    rows_of = (lambda e: e["uids"]) if job_id == 0 else (lambda e: e.get("inference", {}).get("uids", []))
    known = {row["hotkey"]: row for epoch in live["epochs"] for row in rows_of(epoch)}
    for row in metagraph["uids"]:
        source = known.get(row["hotkey"])
        row["role"] = source["role"] if source else None
        row["adversary"] = source["adversary"] if source else None
    return metagraph


def get_epoch(client: NodeClient, job_id: int, epoch: int) -> dict:
    return client.get_epoch(job_id, epoch).json


def search(client: NodeClient, kind: str, value: str | int) -> dict:
    """Where a search box entry leads: {"kind": "block"|"tx"|"account", "id": ...}; not-found otherwise."""
    if kind == "height":
        return {"kind": "block", "id": hash_to_display(client.get_block_hash(value))}
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
