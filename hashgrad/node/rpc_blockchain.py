"""Bitcoin Core's blockchain and utility calls that explorers, pools and monitoring ask first.

getdifficulty, getchaintips, getblockstats, gettxout, waitfornewblock, waitforblock,
waitforblockheight, decoderawtransaction, validateaddress, estimatesmartfee, with Core's names,
arguments and reply members. Where hashgrad's account ledger differs from Bitcoin's coins:
- amounts are integers in base units (1 coin = 10^8), never floats;
- `gettxout TXID N` shows what a mined transaction credited (N = 0: the recipient of a transfer or
  the block maker of a coinbase). Accounts have no "spent" outputs; the credit stays listed and the
  account's balance is what `getaccount` shows;
- getblockstats counts one input per sender-signed transaction and one output per credit; the UTXO
  members are 0 and there is no segwit (`sw*` members are 0);
- estimatesmartfee answers in base units per 1000 bytes, from the mempool's own queue (no history).
"""

from __future__ import annotations

from hashgrad.chain.bech32 import decode_address, encode_address
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.subsidy import compute_block_subsidy
from hashgrad.chain.tx import decode_payload, parse_transaction
from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.rpc_params import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    check_param_count,
    get_param,
    parse_bool,
    parse_hash,
    parse_hex,
    parse_int,
    parse_str,
)
from hashgrad.node.rpc_views import compute_difficulty, tx_to_json

MAX_CONF_TARGET = 1008
PERCENTILES = (10, 25, 50, 75, 90)
MAX_WAIT_MS = 24 * 60 * 60 * 1000


def _block_not_found() -> RpcError:
    return RpcError("not-found", "Block not found", RPC_INVALID_ADDRESS_OR_KEY)


# ---------------------------------------------------------------- chain
async def rpc_getdifficulty(node, params):
    """getdifficulty: the tip's proof-of-work difficulty as a multiple of the minimum."""
    check_param_count(params, 0, 0)
    return compute_difficulty(node.ledger.chainstate.tip.bits)


async def rpc_getchaintips(node, params):
    """getchaintips: every known branch tip: height, hash, branchlen, status (active|valid-headers|invalid)."""
    check_param_count(params, 0, 0)
    return await node.run_blocking(_get_chain_tips, node)


def _get_chain_tips(node) -> list[dict]:
    chainstate = node.ledger.chainstate
    with node.ledger.lock:
        entries = list(chainstate.index.values())
        parents = {entry.prev for entry in entries if entry.height > 0}
        tips = [entry for entry in entries if entry.hash not in parents]
        out = []
        for entry in sorted(tips, key=lambda e: (-e.height, e.seq)):
            fork = entry
            while not chainstate.is_on_active_chain(fork):
                fork = chainstate.index[fork.prev]
            if entry.hash == chainstate.tip.hash:
                status = "active"
            elif entry.is_failed() or chainstate._has_failed_ancestor(entry):
                status = "invalid"
            else:
                status = "valid-headers"  # stored and checked, never connected (Core: not fully validated)
            out.append(
                {
                    "height": entry.height,
                    "hash": hash_to_display(entry.hash),
                    "branchlen": entry.height - fork.height,
                    "status": status,
                }
            )
        return out


async def rpc_getblockstats(node, params):
    """getblockstats HASH_OR_HEIGHT [STATS]: fee, size and count statistics of one block, as Core."""
    check_param_count(params, 1, 2)
    target = params[0]
    if isinstance(target, str):
        key = ("hash", parse_hash(target, "hash_or_height"))
    else:
        key = ("height", parse_int(target, "hash_or_height", 0))
    wanted = get_param(params, 1)
    if wanted is not None:
        if not isinstance(wanted, list) or len(wanted) > 64:
            raise RpcError("invalid-parameter", "stats must be an array of names", RPC_INVALID_PARAMETER)
        wanted = [parse_str(name, "stats", 64) for name in wanted]
    stats = await node.run_blocking(_get_block_stats, node, key)
    if wanted is None:
        return stats
    unknown = [name for name in wanted if name not in stats]
    if unknown:
        raise RpcError("invalid-parameter", f"Invalid selected statistic '{unknown[0]}'", RPC_INVALID_PARAMETER)
    return {name: stats[name] for name in wanted}


def _get_block_stats(node, key: tuple[str, object]) -> dict:
    chainstate = node.ledger.chainstate
    if key[0] == "height":
        if key[1] > chainstate.height:
            raise RpcError(
                "out-of-range",
                f"Target block height {key[1]} after current tip {chainstate.height}",
                RPC_INVALID_PARAMETER,
            )
        block_hash = chainstate.get_block_hash(key[1])
    else:
        block_hash = key[1]
    entry = chainstate.index.get(block_hash)
    block = chainstate.get_block(block_hash) if entry else None
    if block is None:
        raise _block_not_found()
    return compute_block_stats(node.params, entry, block, chainstate.compute_median_time_past(entry))


def compute_block_stats(params, entry, block, median_time: int) -> dict:
    """Core's getblockstats members for a block (pure)."""
    txs = block.txs[1:]
    fees = [tx.fee for tx in txs]
    sizes = [tx.size for tx in txs]
    rates = [tx.fee // tx.size for tx in txs]  # base units per byte (Core: sat/vB)
    total_out = sum(getattr(_payload(tx), "amount", 0) for tx in block.txs)
    subsidy = compute_block_subsidy(entry.height, params.initial_subsidy, params.subsidy_halving_interval)
    return {
        "avgfee": sum(fees) // len(fees) if fees else 0,
        "avgfeerate": sum(fees) // sum(sizes) if sizes else 0,
        "avgtxsize": sum(sizes) // len(sizes) if sizes else 0,
        "blockhash": hash_to_display(entry.hash),
        "feerate_percentiles": compute_percentiles(txs),
        "height": entry.height,
        "ins": len(txs),
        "maxfee": max(fees, default=0),
        "maxfeerate": max(rates, default=0),
        "maxtxsize": max(sizes, default=0),
        "medianfee": sorted(fees)[len(fees) // 2] if fees else 0,
        "mediantime": median_time,
        "mediantxsize": sorted(sizes)[len(sizes) // 2] if sizes else 0,
        "minfee": min(fees, default=0),
        "minfeerate": min(rates, default=0),
        "mintxsize": min(sizes, default=0),
        "outs": sum(1 for tx in block.txs if hasattr(_payload(tx), "recipient")),
        "subsidy": subsidy,
        "swtotal_size": 0,
        "swtotal_weight": 0,
        "swtxs": 0,
        "time": block.header.time,
        "total_out": total_out,
        "total_size": sum(sizes),
        "total_weight": 4 * sum(sizes),
        "totalfee": sum(fees),
        "txs": len(block.txs),
        "utxo_increase": 0,
        "utxo_size_inc": 0,
        "utxo_increase_actual": 0,
        "utxo_size_inc_actual": 0,
    }


def compute_percentiles(txs) -> list[int]:
    """Core's fee-rate percentiles, weighted by size: the rate at 10/25/50/75/90 % of the block's bytes."""
    if not txs:
        return [0] * len(PERCENTILES)
    ranked = sorted((tx.fee // tx.size, tx.size) for tx in txs)
    total = sum(size for _, size in ranked)
    out, seen, i = [], 0, 0
    for percentile in PERCENTILES:
        threshold = total * percentile / 100
        while i < len(ranked) - 1 and seen + ranked[i][1] < threshold:
            seen += ranked[i][1]
            i += 1
        out.append(ranked[i][0])
    return out


def _payload(tx):
    try:
        return decode_payload(tx)
    except HashgradError:
        return None


# ---------------------------------------------------------------- transactions
async def rpc_gettxout(node, params):
    """gettxout TXID N [INCLUDE_MEMPOOL=true]: the credit N of a transaction (N=0: its recipient), or null.

    Account ledger: {bestblock, confirmations, value, scriptPubKey: {address, type: "account"}, coinbase};
    the credit stays listed after the recipient spends (balances are in getaccount)."""
    check_param_count(params, 2, 3)
    txid = parse_hash(params[0], "txid")
    index = parse_int(params[1], "n", 0)
    include_mempool = parse_bool(get_param(params, 2, True), "include_mempool")
    return await node.run_blocking(_get_tx_out, node, txid, index, include_mempool)


def _get_tx_out(node, txid: bytes, index: int, include_mempool: bool):
    ledger = node.ledger
    chainstate = ledger.chainstate
    tx = ledger.mempool.get(txid) if include_mempool else None
    confirmations = 0
    if tx is None:
        found = chainstate.get_transaction(txid)
        if found is None:
            return None
        tx, _, height = found
        confirmations = chainstate.height - height + 1
    payload = _payload(tx)
    if index != 0 or payload is None or not hasattr(payload, "recipient"):
        return None
    return {
        "bestblock": hash_to_display(chainstate.tip.hash),
        "confirmations": confirmations,
        "value": payload.amount,
        "scriptPubKey": {"address": encode_address(node.params.hrp, payload.recipient), "type": "account"},
        "coinbase": tx.is_coinbase(),
    }


async def rpc_decoderawtransaction(node, params):
    """decoderawtransaction HEX: the JSON of a serialized hashgrad transaction (as getrawtransaction verbose)."""
    check_param_count(params, 1, 2)
    raw = parse_hex(params[0], "hexstring", 2 * node.params.max_tx_size)
    try:
        tx = parse_transaction(raw)
    except HashgradError as exc:
        raise RpcError("tx-decode-failed", f"TX decode failed: {exc}", RPC_DESERIALIZATION_ERROR) from None
    return tx_to_json(node.params, tx)


async def rpc_validateaddress(node, params):
    """validateaddress ADDRESS: {isvalid, address, scriptPubKey, isscript, iswitness, pubkey} or the error."""
    check_param_count(params, 1, 1)
    text = parse_str(params[0], "address", 200)
    try:
        pubkey = decode_address(node.params.hrp, text)
    except HashgradError as exc:
        return {"isvalid": False, "error_locations": [], "error": exc.detail or exc.reason}
    return {
        "isvalid": True,
        "address": text,
        "scriptPubKey": pubkey.hex(),
        "isscript": False,
        "iswitness": False,
        "pubkey": pubkey.hex(),
    }


async def rpc_estimatesmartfee(node, params):
    """estimatesmartfee CONF_TARGET [MODE]: {feerate (base units per 1000 bytes), blocks} from the mempool queue."""
    check_param_count(params, 1, 2)
    target = parse_int(params[0], "conf_target", 1, MAX_CONF_TARGET)
    mode = parse_str(get_param(params, 1, "conservative"), "estimate_mode", 16).lower()
    if mode not in ("unset", "economical", "conservative"):
        raise RpcError(
            "invalid-parameter",
            'Invalid estimate_mode parameter, must be one of: "unset", "economical", "conservative"',
            RPC_INVALID_PARAMETER,
        )
    rate = await node.run_blocking(_estimate_fee_rate, node, target)
    return {"feerate": rate * 1000, "blocks": target}


def _estimate_fee_rate(node, target: int) -> int:
    """The fee rate (per byte) a transaction needs to be among the first `target` blocks' worth of the queue."""
    mempool = node.ledger.mempool
    room = target * node.params.max_block_size
    chosen = mempool.select_for_block(room)
    used = sum(tx.size for tx in chosen)
    if used + node.params.max_tx_size <= room or not chosen:
        return mempool.min_fee_rate
    return max(mempool.min_fee_rate, min(tx.fee // tx.size for tx in chosen) + 1)


# ---------------------------------------------------------------- waiting for blocks
def _parse_timeout_ms(params, index: int) -> float | None:
    timeout = parse_int(get_param(params, index, 0), "timeout", 0, MAX_WAIT_MS)
    return timeout / 1000 if timeout else None


async def rpc_waitfornewblock(node, params):
    """waitfornewblock [TIMEOUT_MS=0]: wait for a new tip (0: no limit); {hash, height} of the tip then."""
    check_param_count(params, 0, 1)
    timeout = _parse_timeout_ms(params, 0)
    notifier = node.notifier
    start = notifier.tip_hash
    await notifier.wait_for(lambda: notifier.tip_hash != start, timeout)
    return notifier.get_tip()


async def rpc_waitforblock(node, params):
    """waitforblock HASH [TIMEOUT_MS=0]: wait until HASH is the tip; {hash, height} of the tip then."""
    check_param_count(params, 1, 2)
    wanted = parse_hash(params[0], "blockhash")
    timeout = _parse_timeout_ms(params, 1)
    notifier = node.notifier
    await notifier.wait_for(lambda: notifier.tip_hash == wanted, timeout)
    return notifier.get_tip()


async def rpc_waitforblockheight(node, params):
    """waitforblockheight HEIGHT [TIMEOUT_MS=0]: wait for a tip at HEIGHT or above; {hash, height} then."""
    check_param_count(params, 1, 2)
    height = parse_int(params[0], "height", 0)
    timeout = _parse_timeout_ms(params, 1)
    notifier = node.notifier
    await notifier.wait_for(lambda: notifier.tip_height >= height, timeout)
    return notifier.get_tip()
