"""JSON-RPC methods that read the chain: blocks, headers, transactions, the mempool, accounts, supply.

Each `rpc_<name>(node, params)` is a coroutine; chainstate reads run through `node.run_blocking`, the
single worker thread that serializes every ledger access. Names and result shapes are Bitcoin Core's
where Core has the method; `getaccount`, `getsupply` and `getaddresshistory` are hashgrad's own.
"""

from __future__ import annotations

import time

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.state import StateOverlay, get_account
from hashgrad.chain.tx import decode_payload
from hashgrad.chain.validation import apply_transaction
from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.rpc_params import (
    RPC_INVALID_ADDRESS_OR_KEY,
    check_param_count,
    get_param,
    parse_address,
    parse_bool,
    parse_hash,
    parse_int,
)
from hashgrad.node.rpc_views import block_to_json, compute_difficulty, header_to_json, tx_to_json

IBD_MAX_TIP_AGE = 24 * 60 * 60
MAX_HISTORY = 1000

# Extra fields of `getaccount`, added by later layers (stake, registrations...): fn(chainstate, pubkey) -> dict.
ACCOUNT_EXTENSIONS: list = []


def _not_found(what: str) -> RpcError:
    return RpcError("not-found", what, RPC_INVALID_ADDRESS_OR_KEY)


# ---------------------------------------------------------------- blockchain
async def rpc_getblockcount(node, params):
    """getblockcount: height of the most-work fully validated chain."""
    check_param_count(params, 0, 0)
    return node.ledger.chainstate.height


async def rpc_getbestblockhash(node, params):
    """getbestblockhash: hash of the tip of the active chain."""
    check_param_count(params, 0, 0)
    return hash_to_display(node.ledger.chainstate.tip.hash)


async def rpc_getblockhash(node, params):
    """getblockhash HEIGHT: hash of the active chain's block at HEIGHT."""
    check_param_count(params, 1, 1)
    height = parse_int(params[0], "height", 0)
    block_hash = node.ledger.chainstate.get_block_hash(height)
    if block_hash is None:
        raise RpcError("out-of-range", "Block height out of range", -8)
    return hash_to_display(block_hash)


async def rpc_getblockchaininfo(node, params):
    """getblockchaininfo: network, height, best hash, chainwork, sync state."""
    check_param_count(params, 0, 0)
    sync = getattr(node.peers, "sync", None)  # headers heard from peers whose blocks are not stored yet
    header_heights = getattr(sync, "header_heights", None) or {}
    best_header = max(header_heights.values(), default=0)  # read on the event loop, which owns it
    return await node.run_blocking(_get_blockchain_info, node, best_header)


def _get_blockchain_info(node, best_header: int) -> dict:
    chainstate = node.ledger.chainstate
    tip = chainstate.tip
    stored = [chainstate.index[h].height for h in chainstate.candidates if h in chainstate.index]
    headers = max([tip.height, best_header, *stored])
    return {
        "chain": node.params.name,
        "blocks": tip.height,
        "headers": headers,
        "bestblockhash": hash_to_display(tip.hash),
        "difficulty": compute_difficulty(tip.bits),
        "time": tip.time,
        "mediantime": chainstate.compute_median_time_past(tip),
        "chainwork": f"{tip.chainwork:064x}",
        "initialblockdownload": tip.time < time.time() - IBD_MAX_TIP_AGE,
        "verificationprogress": min(1.0, tip.height / headers) if headers else 1.0,
        "orphans": len(chainstate.orphans),
        "size_on_disk": _get_size_on_disk(node.datadir),
        "pruned": False,
        "warnings": "",
    }


def _get_size_on_disk(datadir) -> int:
    try:
        return sum(path.stat().st_size for path in datadir.glob("chain.sqlite*"))
    except OSError:
        return 0


async def rpc_getblock(node, params):
    """getblock HASH [VERBOSITY=1]: 0 hex, 1 JSON with txids, 2 JSON with decoded transactions."""
    check_param_count(params, 1, 2)
    block_hash = parse_hash(params[0], "blockhash")
    verbosity = get_param(params, 1, 1)
    verbosity = int(verbosity) if isinstance(verbosity, bool) else parse_int(verbosity, "verbosity", 0, 2)
    return await node.run_blocking(_get_block, node, block_hash, verbosity)


def _get_block(node, block_hash: bytes, verbosity: int):
    chainstate = node.ledger.chainstate
    entry = chainstate.index.get(block_hash)
    data = chainstate.get_block_bytes(block_hash) if entry else None
    if data is None:
        raise _not_found("Block not found")
    if verbosity == 0:
        return data.hex()
    return block_to_json(chainstate, node.params, entry, chainstate.get_block(block_hash), verbosity)


async def rpc_getblockheader(node, params):
    """getblockheader HASH [VERBOSE=true]: the header as JSON, or its 80 bytes as hex."""
    check_param_count(params, 1, 2)
    block_hash = parse_hash(params[0], "blockhash")
    verbose = parse_bool(get_param(params, 1, True), "verbose")
    return await node.run_blocking(_get_block_header, node, block_hash, verbose)


def _get_block_header(node, block_hash: bytes, verbose: bool):
    chainstate = node.ledger.chainstate
    entry = chainstate.index.get(block_hash)
    block = chainstate.get_block(block_hash) if entry else None
    if block is None:
        raise _not_found("Block not found")
    if not verbose:
        return block.header.serialize().hex()
    out = header_to_json(chainstate, node.params, entry, block.header)
    out["nTx"] = len(block.txs)
    return out


# ---------------------------------------------------------------- mempool and transactions
async def rpc_getrawmempool(node, params):
    """getrawmempool [VERBOSE=false]: txids in the mempool, or a map txid -> details."""
    check_param_count(params, 0, 1)
    verbose = parse_bool(get_param(params, 0, False), "verbose")
    return await node.run_blocking(_get_raw_mempool, node, verbose)


def _get_raw_mempool(node, verbose: bool):
    mempool = node.ledger.mempool
    with mempool.lock:
        entries = list(mempool.entries.values())
        if not verbose:
            return [hash_to_display(e.tx.txid) for e in entries]
        chains = {sender: mempool.get_sender_chain(sender) for sender in mempool.by_sender}
    height = node.ledger.chainstate.height
    return {
        hash_to_display(e.tx.txid): mempool_entry_to_json(node.params, e, chains[e.tx.sender], height) for e in entries
    }


def mempool_entry_to_json(params, entry, chain: list, height: int) -> dict:
    """Core's verbose mempool entry; a sender's earlier nonces are the ancestors, later ones descendants."""
    tx = entry.tx
    position = next(i for i, pending in enumerate(chain) if pending.txid == tx.txid)
    ancestors, descendants = chain[: position + 1], chain[position:]
    return {
        "vsize": tx.size,
        "weight": 4 * tx.size,
        "time": int(entry.added_at),
        "height": height,
        "descendantcount": len(descendants),
        "descendantsize": sum(t.size for t in descendants),
        "ancestorcount": len(ancestors),
        "ancestorsize": sum(t.size for t in ancestors),
        "wtxid": hash_to_display(tx.txid),
        "fees": {
            "base": tx.fee,
            "modified": tx.fee,
            "ancestor": sum(t.fee for t in ancestors),
            "descendant": sum(t.fee for t in descendants),
        },
        "depends": [hash_to_display(chain[position - 1].txid)] if position else [],
        "spentby": [hash_to_display(chain[position + 1].txid)] if position + 1 < len(chain) else [],
        "bip125-replaceable": True,
        "unbroadcast": False,
        "size": tx.size,
        "fee": tx.fee,
        "sender": encode_address(params.hrp, tx.sender),
        "nonce": tx.nonce,
    }


async def rpc_getmempoolinfo(node, params):
    """getmempoolinfo: transaction count, bytes, fees, limits (fee rates in base units per 1000 bytes)."""
    check_param_count(params, 0, 0)
    return await node.run_blocking(_get_mempool_info, node)


def _get_mempool_info(node) -> dict:
    mempool = node.ledger.mempool
    with mempool.lock:
        info = mempool.get_info()
        total_fee = sum(entry.tx.fee for entry in mempool.entries.values())
    rate_per_kb = mempool.min_fee_rate * 1000
    info.update(
        {
            "loaded": True,
            "usage": info["bytes"],
            "total_fee": total_fee,
            "mempoolminfee": rate_per_kb,
            "minrelaytxfee": rate_per_kb,
            "incrementalrelayfee": rate_per_kb,
            "unbroadcastcount": 0,
            "fullrbf": True,
        }
    )
    return info


async def rpc_getrawtransaction(node, params):
    """getrawtransaction TXID [VERBOSITY=0]: hex of a mined or pending transaction, or (1, 2 or true) its JSON."""
    check_param_count(params, 1, 3)  # Core's third parameter (blockhash) is accepted: txids are indexed
    txid = parse_hash(params[0], "txid")
    verbosity = get_param(params, 1, 0)
    verbose = bool(verbosity) if isinstance(verbosity, bool) else bool(parse_int(verbosity, "verbosity", 0, 2))
    found = await node.run_blocking(_get_transaction, node, txid)
    return found if verbose else found["hex"]


async def rpc_gettransaction(node, params):
    """gettransaction TXID: a mined or pending transaction with its block, height and confirmations."""
    check_param_count(params, 1, 1)
    return await node.run_blocking(_get_transaction, node, parse_hash(params[0], "txid"))


def _get_transaction(node, txid: bytes) -> dict:
    ledger = node.ledger
    pending = ledger.mempool.get(txid)
    if pending is not None:
        out = tx_to_json(node.params, pending)
        out.update({"hex": pending.serialize().hex(), "in_mempool": True, "confirmations": 0})
        return out
    found = ledger.chainstate.get_transaction(txid)
    if found is None:
        raise _not_found("No such mempool or blockchain transaction")
    tx, block_hash, height = found
    out = tx_to_json(node.params, tx)
    out.update(
        {
            "hex": tx.serialize().hex(),
            "in_mempool": False,
            "blockhash": hash_to_display(block_hash),
            "height": height,
            "confirmations": ledger.chainstate.height - height + 1,
            "blocktime": ledger.chainstate.index[block_hash].time,
        }
    )
    return out


# ---------------------------------------------------------------- accounts and supply
async def rpc_getaccount(node, params):
    """getaccount ADDRESS: balance and nonce at the tip, and after the pending mempool transactions."""
    check_param_count(params, 1, 1)
    pubkey = parse_address(params[0], "address", node.params.hrp)
    return await node.run_blocking(_get_account, node, pubkey)


def _get_account(node, pubkey: bytes) -> dict:
    ledger = node.ledger
    with ledger.lock:
        chainstate = ledger.chainstate
        account = get_account(chainstate, pubkey)
        pending = ledger.mempool.get_sender_chain(pubkey)
        overlay = StateOverlay(chainstate)
        for tx in pending:
            try:
                apply_transaction(node.params, overlay, tx, chainstate.height + 1)
            except HashgradError:
                break  # cannot happen for an admitted chain; stop rather than report a wrong balance
        after = get_account(overlay, pubkey)
        out = {
            "address": encode_address(node.params.hrp, pubkey),
            "pubkey": pubkey.hex(),
            "balance": account.balance,
            "nonce": account.nonce,
            "pending_nonce": ledger.mempool.get_next_nonce(pubkey),
            "pending_balance": after.balance,
            "pending_txs": len(pending),
            "height": chainstate.height,
        }
        for extension in ACCOUNT_EXTENSIONS:
            out.update(extension(chainstate, pubkey))
        return out


async def rpc_getsupply(node, params):
    """getsupply: money issued, held in accounts and job pools, burned, and whether they balance."""
    check_param_count(params, 0, 0)
    audit = await node.run_blocking(node.ledger.compute_supply_audit)
    out = audit.to_json()
    out["height"] = node.ledger.chainstate.height
    out["bestblockhash"] = hash_to_display(node.ledger.chainstate.tip.hash)
    return out


async def rpc_getaddresshistory(node, params):
    """getaddresshistory ADDRESS [LIMIT=100]: pending then mined transactions touching ADDRESS, newest first."""
    check_param_count(params, 1, 2)
    pubkey = parse_address(params[0], "address", node.params.hrp)
    limit = parse_int(get_param(params, 1, 100), "limit", 1, MAX_HISTORY)
    return await node.run_blocking(_get_address_history, node, pubkey, limit)


def _get_address_history(node, pubkey: bytes, limit: int) -> list[dict]:
    ledger = node.ledger
    with ledger.lock:
        out = []
        for tx in reversed(ledger.mempool.get_sender_chain(pubkey)):
            out.append(_history_item(node, tx, pubkey, None, None))
        with ledger.mempool.lock:
            incoming = [
                e.tx
                for e in ledger.mempool.entries.values()
                if e.tx.sender != pubkey and getattr(_payload(e.tx), "recipient", None) == pubkey
            ]
        out += [_history_item(node, tx, pubkey, None, None) for tx in incoming]
        for height, txid in ledger.chainstate.get_address_txids(pubkey, limit):
            found = ledger.chainstate.get_transaction(txid)
            if found is not None:
                out.append(_history_item(node, found[0], pubkey, found[1], height))
        return out[:limit]


def _payload(tx):

    try:
        return decode_payload(tx)
    except HashgradError:
        return None


def _history_item(node, tx, pubkey: bytes, block_hash: bytes | None, height: int | None) -> dict:
    item = tx_to_json(node.params, tx)
    item["direction"] = "out" if tx.sender == pubkey else "in"
    item["height"] = height
    item["blockhash"] = hash_to_display(block_hash) if block_hash else None
    item["confirmations"] = node.ledger.chainstate.height - height + 1 if height is not None else 0
    return item
