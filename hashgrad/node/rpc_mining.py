"""JSON-RPC methods for mining and sending: getblocktemplate (BIP22/23), submitblock, getmininginfo,
getnetworkhashps, sendrawtransaction, generatetoaddress.

Rejections carry the ledger's reason code: sendrawtransaction raises -26 (RPC_VERIFY_REJECTED) or -27
(already in the chain) with `reason`, as Bitcoin Core does; submitblock returns None on success or the
reason string ("duplicate", "inconclusive", "high-hash"...) exactly like Core's BIP22 results.
Grinding (`generatetoaddress`) runs one block per worker-thread call so the event loop, peers and
other RPC calls keep going between blocks.
"""

from __future__ import annotations

import inspect
import logging
import time

from hashgrad.chain.block import parse_block
from hashgrad.chain.genesis import compute_block_version
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.pow import compute_target
from hashgrad.chain.state import StateOverlay
from hashgrad.chain.tx import parse_transaction
from hashgrad.chain.validation import apply_block, check_block_body, check_header_context
from hashgrad.errors import ConsensusError, DecodeError, HashgradError, MempoolError, RpcError
from hashgrad.node.rpc_auxpow import check_can_mine
from hashgrad.node.rpc_params import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_PARAMETER,
    check_param_count,
    get_param,
    parse_address,
    parse_hash,
    parse_hex,
    parse_int,
    parse_str,
)
from hashgrad.node.rpc_views import compute_difficulty

RPC_VERIFY_REJECTED = -26
RPC_VERIFY_ALREADY_IN_CHAIN = -27
RPC_METHOD_NOT_FOUND = -32601
MAX_GENERATE = 10_000
DEFAULT_MAX_TRIES = 1_000_000
DEFAULT_HASHPS_BLOCKS = 120
LONGPOLL_MEMPOOL_DELAY_S = 60.0  # Core looks at the mempool after a minute of long polling...
LONGPOLL_MEMPOOL_STEP_S = 10.0  # ...then every 10 seconds
RPC_CLIENT_NOT_CONNECTED = -9

log = logging.getLogger("hashgrad.mining")


async def rpc_sendrawtransaction(node, params):
    """sendrawtransaction HEX: admit a signed transaction to the mempool, relay it, return its txid."""
    check_param_count(params, 1, 2)  # Core's second parameter (maxfeerate) is accepted and ignored
    raw = parse_hex(params[0], "hexstring", 2 * node.params.max_tx_size)
    try:
        tx = parse_transaction(raw)
    except HashgradError as exc:
        raise RpcError("tx-decode-failed", f"TX decode failed: {exc}", RPC_DESERIALIZATION_ERROR) from None
    try:
        await node.run_blocking(node.ledger.submit_transaction, tx)
    except MempoolError as exc:
        if exc.reason == "txn-already-in-mempool":
            return hash_to_display(tx.txid)  # as Core: resubmitting a pending transaction is not an error
        code = RPC_VERIFY_ALREADY_IN_CHAIN if exc.reason == "txn-already-known" else RPC_VERIFY_REJECTED
        raise RpcError(exc.reason, exc.detail, code) from None
    except ConsensusError as exc:
        raise RpcError(exc.reason, exc.detail, RPC_VERIFY_REJECTED) from None
    if node.peers is not None:
        await _maybe_await(node.peers.announce_transaction(tx))
    return hash_to_display(tx.txid)


async def rpc_submitblock(node, params):
    """submitblock HEX: None when the block joined the active chain, else "duplicate", "inconclusive" or a reason."""
    check_param_count(params, 1, 2)
    raw = parse_hex(params[0], "hexdata", 2 * node.params.max_block_size * 4)
    try:
        block = parse_block(raw, node.params.max_block_size * 4)
    except (DecodeError, ConsensusError) as exc:
        raise RpcError("block-decode-failed", f"Block decode failed: {exc}", RPC_DESERIALIZATION_ERROR) from None
    try:
        result = await node.run_blocking(node.ledger.submit_block, block)
    except HashgradError as exc:
        return exc.reason
    if result.status == "duplicate":
        return "duplicate"
    if result.status in ("orphan", "side-branch"):
        return "inconclusive"
    return None


async def rpc_getblocktemplate(node, params):
    """getblocktemplate [TEMPLATE_REQUEST]: BIP22/BIP23 block template, long poll, or a proposal's verdict.

    TEMPLATE_REQUEST {"mode": "template"|"proposal", "capabilities": [...], "rules": [...],
    "longpollid": ID, "data": HEX}. With `longpollid` the call returns once the tip changes (or, after
    a minute, the mempool). Proposal mode checks a block (not its proof of work) against the tip:
    null when valid, else "duplicate", "duplicate-invalid", "inconclusive-not-best-prevblk" or the
    rule it breaks. hashgrad has no segwit, so `rules` need not name it; the coinbase is hashgrad's
    (see `hashgrad.chain.tx.make_coinbase`), paying `coinbasevalue`."""
    check_param_count(params, 0, 1)
    request = get_param(params, 0, {})
    if not isinstance(request, dict):
        raise RpcError("invalid-parameter", "template_request must be an object", RPC_INVALID_PARAMETER)
    mode = request.get("mode", "template")
    if mode == "proposal":
        return await _check_proposal(node, request.get("data"))
    if mode != "template":
        raise RpcError("invalid-parameter", "Invalid mode", RPC_INVALID_PARAMETER)
    check_can_mine(node)  # outside regtest/devnet: peers needed, no initial block download (as Core)
    longpollid = request.get("longpollid")
    if longpollid is not None:
        await wait_long_poll(node, parse_longpollid(longpollid))
    notifier = node.notifier
    tx_updates = notifier.tx_updates  # read before the template: a later admission ends the next long poll
    template, min_time = await node.run_blocking(_build_template, node.ledger)
    return template_to_json(node.params, template, min_time, f"{hash_to_display(template.prev_hash)}{tx_updates}")


def _build_template(ledger) -> tuple:
    """The template and its `mintime` (the tip's median time past + 1), read under one lock."""
    with ledger.lock:
        template = ledger.build_template()
        return template, ledger.chainstate.compute_median_time_past(ledger.chainstate.tip) + 1


def template_to_json(params, template, min_time: int, longpollid: str) -> dict:
    """BIP22/BIP23 members as Bitcoin Core 28 prints them, plus hashgrad's chainid and auxpow flag."""
    target = compute_target(template.bits, params.pow.pow_limit)
    position: dict[tuple[bytes, int], int] = {}
    transactions = []
    for i, tx in enumerate(template.txs, start=1):
        position[(tx.sender, tx.nonce)] = i
        earlier = position.get((tx.sender, tx.nonce - 1)) if tx.nonce else None
        transactions.append(
            {
                "data": tx.serialize().hex(),
                "txid": hash_to_display(tx.txid),
                "hash": hash_to_display(tx.txid),
                "depends": [earlier] if earlier else [],
                "fee": tx.fee,
                "sigops": 0,
                "weight": 4 * tx.size,
                "size": tx.size,
            }
        )
    return {
        "capabilities": ["proposal"],
        "version": compute_block_version(params),
        "rules": [],
        "vbavailable": {},
        "vbrequired": 0,
        "previousblockhash": hash_to_display(template.prev_hash),
        "transactions": transactions,
        "coinbaseaux": {},
        "coinbasevalue": template.coinbase_value,
        "longpollid": longpollid,
        "target": f"{target:064x}",
        "mintime": min_time,
        "mutable": ["time", "transactions", "prevblock"],
        "noncerange": "00000000ffffffff",
        "sigoplimit": 0,
        "sizelimit": params.max_block_size,
        "weightlimit": 4 * params.max_block_size,
        "curtime": template.time,
        "bits": f"{template.bits:08x}",
        "height": template.height,
        "chainid": params.chain_id,
        "auxpow": params.auxpow_start_height is not None,
    }


def parse_longpollid(value) -> tuple[bytes, int]:
    text = parse_str(value, "longpollid", 96)
    counter = text[64:]
    if len(text) < 64 or not counter.isdigit():
        raise RpcError(
            "invalid-parameter", "longpollid: the value a previous getblocktemplate returned", RPC_INVALID_PARAMETER
        )
    return parse_hash(text[:64], "longpollid"), int(counter)


async def wait_long_poll(node, watched: tuple[bytes, int]) -> None:
    """Core's long poll: until the tip leaves `watched`, or, checked after a minute then every 10 s,
    the mempool has admitted transactions since the long poll id was made."""
    tip_hash, tx_updates = watched
    notifier = node.notifier
    log.debug("getblocktemplate: long poll on %s", hash_to_display(tip_hash))
    check_at = time.monotonic() + LONGPOLL_MEMPOOL_DELAY_S
    while notifier.tip_hash == tip_hash:
        await notifier.wait_for(lambda: notifier.tip_hash != tip_hash, max(0.0, check_at - time.monotonic()))
        if node.is_stopping():
            raise RpcError("shutting-down", "Shutting down", RPC_CLIENT_NOT_CONNECTED)
        if time.monotonic() >= check_at:
            if notifier.tx_updates != tx_updates:
                return
            check_at += LONGPOLL_MEMPOOL_STEP_S


async def _check_proposal(node, data):
    raw = parse_hex(data, "data", 2 * node.params.max_block_size * 4)
    try:
        block = parse_block(raw, node.params.max_block_size * 4)
    except (DecodeError, ConsensusError) as exc:
        raise RpcError("block-decode-failed", f"Block decode failed: {exc}", RPC_DESERIALIZATION_ERROR) from None
    return await node.run_blocking(check_block_proposal, node.ledger, node.params, block)


def check_block_proposal(ledger, params, block) -> str | None:
    """BIP23 proposal (Core's TestBlockValidity without proof of work): None or the reason."""
    with ledger.lock:
        chainstate = ledger.chainstate
        known = chainstate.index.get(block.hash)
        if known is not None:
            return "duplicate-invalid" if known.is_failed() else "duplicate"
        if block.header.prev_hash != chainstate.tip.hash:
            return "inconclusive-not-best-prevblk"
        now = ledger.now()
        try:
            check_header_context(
                params, block.header, chainstate.compute_header_context(chainstate.tip, block.header.time, now)
            )
            check_block_body(params, block)
            apply_block(params, StateOverlay(chainstate), block, chainstate.tip.height + 1)
        except HashgradError as exc:
            return exc.reason
        return None


# ---------------------------------------------------------------- mining information
async def rpc_getmininginfo(node, params):
    """getmininginfo: blocks, bits, difficulty, target, network hash rate, pooled transactions, chain."""
    check_param_count(params, 0, 0)
    return await node.run_blocking(_get_mining_info, node)


def _get_mining_info(node) -> dict:
    chainstate = node.ledger.chainstate
    with node.ledger.lock:
        tip = chainstate.tip
        return {
            "blocks": tip.height,
            "bits": f"{tip.bits:08x}",
            "difficulty": compute_difficulty(tip.bits),
            "target": f"{compute_target(tip.bits, node.params.pow.pow_limit):064x}",
            "networkhashps": compute_network_hash_ps(chainstate, node.params, tip, DEFAULT_HASHPS_BLOCKS),
            "pooledtx": len(node.ledger.mempool),
            "chain": node.params.name,
            "warnings": [],
        }


async def rpc_getnetworkhashps(node, params):
    """getnetworkhashps [NBLOCKS=120] [HEIGHT=-1]: hashes per second over the last NBLOCKS blocks before HEIGHT."""
    check_param_count(params, 0, 2)
    nblocks = parse_int(get_param(params, 0, DEFAULT_HASHPS_BLOCKS), "nblocks", -1, 1 << 31)
    height = parse_int(get_param(params, 1, -1), "height", -1, 1 << 31)
    return await node.run_blocking(_get_network_hash_ps, node, nblocks, height)


def _get_network_hash_ps(node, nblocks: int, height: int) -> float:
    chainstate = node.ledger.chainstate
    with node.ledger.lock:
        tip = chainstate.tip
        if height >= 0:
            if height > tip.height:
                raise RpcError("out-of-range", "Block does not exist at specified height", RPC_INVALID_PARAMETER)
            tip = chainstate.get_ancestor(tip, height)
        return compute_network_hash_ps(chainstate, node.params, tip, nblocks)


def compute_network_hash_ps(chainstate, params, entry, nblocks: int) -> float:
    """Core's GetNetworkHashPS: chain work over the window's time span (0 at genesis or no span)."""
    if entry.height == 0:
        return 0.0
    if nblocks <= 0:  # since the last difficulty change
        nblocks = entry.height % params.pow.adjustment_interval + 1
    nblocks = min(nblocks, entry.height)
    first = chainstate.get_ancestor(entry, entry.height - nblocks)
    times, current = [], entry
    while current.height >= first.height:
        times.append(current.time)
        if current.height == 0:
            break
        current = chainstate.index[current.prev]
    span = max(times) - min(times)
    return (entry.chainwork - first.chainwork) / span if span > 0 else 0.0


async def rpc_generatetoaddress(node, params):
    """generatetoaddress NBLOCKS ADDRESS [MAXTRIES]: make blocks now (regtest/devnet only); their hashes."""
    check_param_count(params, 2, 3)
    if not node.params.mine_on_demand:
        raise RpcError(
            "method-not-found", f"generatetoaddress is for regtest/devnet, not {node.params.name}", RPC_METHOD_NOT_FOUND
        )
    count = parse_int(params[0], "nblocks", 0, MAX_GENERATE)
    payout = parse_address(params[1], "address", node.params.hrp)
    max_tries = parse_int(get_param(params, 2, DEFAULT_MAX_TRIES), "maxtries", 1, 1 << 32)
    hashes = []
    for _ in range(count):
        if node.is_stopping():
            break
        try:
            made = await node.run_blocking(node.ledger.generate, 1, payout, max_tries)
        except HashgradError as exc:
            raise RpcError(exc.reason, exc.detail, -1) from None
        hashes += [hash_to_display(h) for h in made]
    return hashes


async def _maybe_await(value):
    if inspect.isawaitable(value):
        await value
