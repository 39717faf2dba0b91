"""JSON-RPC methods that change the chain: sendrawtransaction, submitblock, getblocktemplate, generatetoaddress.

Rejections carry the ledger's reason code: sendrawtransaction raises -26 (RPC_VERIFY_REJECTED) or -27
(already in the chain) with `reason`, as Bitcoin Core does; submitblock returns None on success or the
reason string ("duplicate", "inconclusive", "high-hash"...) exactly like Core's BIP22 results.
Grinding (`generatetoaddress`) runs one block per worker-thread call so the event loop, peers and
other RPC calls keep going between blocks.
"""
from __future__ import annotations

import inspect

from hashgrad.chain.block import parse_block
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.pow import compute_target
from hashgrad.chain.tx import parse_transaction
from hashgrad.errors import ConsensusError, DecodeError, HashgradError, MempoolError, RpcError
from hashgrad.node.rpc_params import (RPC_DESERIALIZATION_ERROR, check_param_count, get_param, parse_address,
                                      parse_hex, parse_int)

RPC_VERIFY_REJECTED = -26
RPC_VERIFY_ALREADY_IN_CHAIN = -27
RPC_METHOD_NOT_FOUND = -32601
MAX_GENERATE = 10_000
DEFAULT_MAX_TRIES = 1_000_000


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
    """getblocktemplate: the next block's fields and mempool transactions (BIP22-like JSON)."""
    check_param_count(params, 0, 1)  # Core's template_request object is accepted and ignored
    template = await node.run_blocking(node.ledger.build_template)
    target = compute_target(template.bits, node.params.pow.pow_limit)
    from hashgrad.chain.genesis import compute_block_version

    return {
        "version": compute_block_version(node.params),
        "previousblockhash": hash_to_display(template.prev_hash),
        "height": template.height,
        "bits": f"{template.bits:08x}",
        "target": f"{target:064x}",
        "curtime": template.time,
        "coinbasevalue": template.coinbase_value,
        "sizelimit": node.params.max_block_size,
        "chainid": node.params.chain_id,
        "auxpow": node.params.auxpow_start_height is not None,
        "transactions": [{"data": tx.serialize().hex(), "txid": hash_to_display(tx.txid), "hash":
                          hash_to_display(tx.txid), "fee": tx.fee, "size": tx.size} for tx in template.txs],
    }


async def rpc_generatetoaddress(node, params):
    """generatetoaddress NBLOCKS ADDRESS [MAXTRIES]: make blocks now (regtest/devnet only); their hashes."""
    check_param_count(params, 2, 3)
    if not node.params.mine_on_demand:
        raise RpcError("method-not-found", f"generatetoaddress is for regtest/devnet, not {node.params.name}",
                       RPC_METHOD_NOT_FOUND)
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
