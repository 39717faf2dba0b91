"""JSON-RPC methods for merge-mining pools, as Namecoin has them: createauxblock, submitauxblock, getauxblock.

The flow a pool follows (namecoin-core `src/rpc/auxpow_miner.cpp`):
1. `createauxblock ADDRESS` returns the hash of a block paying ADDRESS, built with the auxpow
   version flag and our chain ID, plus `chainid`, `bits`, `_target`... The pool commits to that hash
   in its Bitcoin coinbase (`fabe6d6d | chain Merkle root | LE32 size | LE32 nonce`).
2. When a Bitcoin share meets our target, `submitauxblock HASH AUXPOW_HEX` attaches the CAuxPow to
   the block remembered under HASH and submits it through the ledger like any other block; the
   ledger's listeners announce it to peers, who check the auxpow themselves. true/false, as Namecoin.
3. `getauxblock` is the wallet form: no arguments creates a block for the node's `--payout` address
   (the node keeps no wallet), two arguments submit.

Template caching follows Namecoin's AuxpowMiner: one current block per payout key, handed out again
while the tip is the same and, once it is MEMPOOL_REFRESH_S old, while the mempool would still give
the same transactions; every block handed out is remembered by hash (the newest MAX_REMEMBERED) so a
late share can still be submitted, and all are forgotten when createauxblock sees a new tip. Cache
and ledger are touched only on the node's single worker thread (`run_blocking`), so they need no lock.

Errors (reason, Bitcoin Core code): bad-address -5, bad-hex -22, bad-auxpow-length -22,
auxpow-decode-failed -22 (the reason of the decoder in the message), unknown-aux-block -8,
no-payout-address -18, not-connected -9 and initial-block-download -10 (not on regtest/devnet, as
Namecoin). A block the chain refuses is `false`, with its reason in the node's log.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from hashgrad.chain.auxpow import MAX_AUXPOW_SIZE, parse_auxpow
from hashgrad.chain.bech32 import decode_address
from hashgrad.chain.block import Block
from hashgrad.chain.encoding import parse_hex
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.params import ChainParams
from hashgrad.chain.pow import compute_target
from hashgrad.chain.validation import check_header_proof
from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.rpc_params import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_INVALID_PARAMS,
    check_param_count,
    parse_hash,
    parse_str,
)

MEMPOOL_REFRESH_S = 60  # Namecoin rebuilds for mempool changes at most once a minute
MAX_REMEMBERED = 256  # blocks kept by hash for submitauxblock (they share the mempool's tx objects)
IBD_MAX_TIP_AGE_S = 24 * 60 * 60
RPC_WALLET_NOT_FOUND = -18
RPC_CLIENT_NOT_CONNECTED = -9
RPC_CLIENT_IN_INITIAL_DOWNLOAD = -10

log = logging.getLogger("hashgrad.auxpow")


@dataclass(frozen=True)
class AuxTemplate:
    """A block handed to a pool: its hash is what the pool commits to."""

    block: Block
    height: int
    coinbase_value: int

    @property
    def hash(self) -> bytes:
        return self.block.hash


@dataclass
class CurrentEntry:
    template: AuxTemplate
    checked_at: int  # when the mempool was last compared against this template


class AuxBlockCache:
    """Namecoin's AuxpowMiner state: the current template per payout key, every handed-out block by hash."""

    def __init__(self, max_remembered: int = MAX_REMEMBERED):
        self.max_remembered = max_remembered
        self.tip_hash: bytes | None = None
        self.current: dict[bytes, CurrentEntry] = {}
        self.by_hash: OrderedDict[bytes, AuxTemplate] = OrderedDict()
        self.built = 0  # makes each new coinbase (hence block hash) unique

    def forget_if_tip_moved(self, tip_hash: bytes) -> None:
        if tip_hash != self.tip_hash:
            self.tip_hash = tip_hash
            self.current.clear()
            self.by_hash.clear()

    def get_current(self, payout: bytes) -> CurrentEntry | None:
        return self.current.get(payout)

    def put(self, payout: bytes, template: AuxTemplate, now: int) -> None:
        self.current[payout] = CurrentEntry(template, now)
        self.by_hash[template.hash] = template
        while len(self.by_hash) > self.max_remembered:
            self.by_hash.popitem(last=False)

    def lookup(self, block_hash: bytes) -> AuxTemplate | None:
        return self.by_hash.get(block_hash)

    def take_coinbase_extra(self) -> bytes:
        self.built += 1
        return b"aux" + self.built.to_bytes(8, "little")


# ---------------------------------------------------------------- worker-thread steps (ledger + cache)
def get_aux_template(ledger, params: ChainParams, cache: AuxBlockCache, payout: bytes) -> AuxTemplate:
    """The current block for `payout`: cached while the tip holds and the mempool gives the same transactions."""
    now = ledger.now()
    cache.forget_if_tip_moved(ledger.chainstate.tip.hash)
    entry = cache.get_current(payout)
    if entry is not None and now - entry.checked_at < MEMPOOL_REFRESH_S:
        return entry.template
    template = ledger.build_template()
    if entry is not None and entry.template.block.txs[1:] == template.txs:
        entry.checked_at = now
        return entry.template
    block = template.build_block(params, payout, cache.take_coinbase_extra(), auxpow=True)
    made = AuxTemplate(block, template.height, template.coinbase_value)
    cache.put(payout, made, now)
    return made


def submit_aux_block(ledger, params: ChainParams, cache: AuxBlockCache, block_hash: bytes, auxpow) -> bool:
    """Attach the auxpow to the remembered block and submit it; False (reason logged) if it is refused."""
    template = cache.lookup(block_hash)
    if template is None:
        raise RpcError("unknown-aux-block", f"block hash {hash_to_display(block_hash)} unknown", RPC_INVALID_PARAMETER)
    block = Block(template.block.header, template.block.txs, auxpow)
    try:
        check_header_proof(params, block.header, auxpow)  # as Namecoin's CheckBlock, even for a known hash
        result = ledger.submit_block(block)
    except HashgradError as exc:
        log.info("submitauxblock %s rejected: %s", hash_to_display(block_hash), exc)
        return False
    log.info("submitauxblock %s accepted: %s", hash_to_display(block_hash), result.status)
    return True


# ---------------------------------------------------------------- parameters and results
_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def get_cache(node) -> AuxBlockCache:
    cache = _CACHES.get(node)
    if cache is None:
        cache = _CACHES[node] = AuxBlockCache()
    return cache


def parse_payout(value, hrp: str) -> bytes:
    text = parse_str(value, "address", 90)
    try:
        return decode_address(hrp, text)
    except HashgradError as exc:
        raise RpcError(
            "bad-address", f"invalid coinbase payout address: {exc.detail or exc.reason}", RPC_INVALID_ADDRESS_OR_KEY
        ) from None


def parse_auxpow_hex(value):
    """The CAuxPow in `value` (hex), size-limited before it is decoded."""
    data = parse_hex(
        value,
        "auxpow",
        max_size=MAX_AUXPOW_SIZE,
        length_reason="bad-auxpow-length",
        error=lambda reason, detail: RpcError(reason, detail, RPC_DESERIALIZATION_ERROR),
    )
    try:
        return parse_auxpow(data)
    except HashgradError as exc:
        raise RpcError("auxpow-decode-failed", str(exc), RPC_DESERIALIZATION_ERROR) from None


def check_can_mine(node) -> None:
    """Outside regtest/devnet, refuse work while alone or far behind (Namecoin's createauxblock checks)."""
    if node.params.mine_on_demand:
        return
    if node.peers is None or not node.peers.get_peer_info():
        raise RpcError("not-connected", "hashgrad is not connected", RPC_CLIENT_NOT_CONNECTED)
    if node.ledger.chainstate.tip.time < time.time() - IBD_MAX_TIP_AGE_S:
        raise RpcError("initial-block-download", "hashgrad is downloading blocks", RPC_CLIENT_IN_INITIAL_DOWNLOAD)


def aux_template_to_json(params: ChainParams, template: AuxTemplate) -> dict:
    header = template.block.header
    target = compute_target(header.bits, params.pow.pow_limit)
    return {
        "hash": hash_to_display(template.hash),
        "chainid": header.chain_id,
        "previousblockhash": hash_to_display(header.prev_hash),
        "coinbasevalue": template.coinbase_value,
        "bits": f"{header.bits:08x}",
        "height": template.height,
        "_target": target.to_bytes(32, "little").hex(),  # Namecoin's deprecated little-endian form
    }


async def create_aux_block(node, payout: bytes) -> dict:
    check_can_mine(node)
    template = await node.run_blocking(get_aux_template, node.ledger, node.params, get_cache(node), payout)
    return aux_template_to_json(node.params, template)


async def submit_aux_hex(node, hash_value, auxpow_value) -> bool:
    block_hash = parse_hash(hash_value, "hash")
    auxpow = parse_auxpow_hex(auxpow_value)
    return await node.run_blocking(submit_aux_block, node.ledger, node.params, get_cache(node), block_hash, auxpow)


# ---------------------------------------------------------------- the methods
async def rpc_createauxblock(node, params):
    """createauxblock ADDRESS: a block paying ADDRESS for a pool to merge-mine; commit to its `hash`.

    Result: {hash, chainid, previousblockhash, coinbasevalue, bits, height, _target (little-endian hex)};
    the same block while the tip and the mempool hold."""
    check_param_count(params, 1, 1)
    return await create_aux_block(node, parse_payout(params[0], node.params.hrp))


async def rpc_submitauxblock(node, params):
    """submitauxblock HASH AUXPOW: submit createauxblock's block HASH with its CAuxPow; true or false.

    AUXPOW is the hex of the serialized CAuxPow (parent coinbase ... parent header); false means the
    chain refused the block (the reason is in the node's log)."""
    check_param_count(params, 2, 2)
    return await submit_aux_hex(node, params[0], params[1])


async def rpc_getauxblock(node, params):
    """getauxblock [HASH AUXPOW]: createauxblock for the node's --payout address, or submitauxblock.

    The node keeps no wallet: without arguments it needs `--payout`; with HASH and AUXPOW it submits."""
    if len(params) not in (0, 2):
        raise RpcError("invalid-params", f"expected 0 or 2 parameters, got {len(params)}", RPC_INVALID_PARAMS)
    if params:
        return await submit_aux_hex(node, params[0], params[1])
    payout = node.config.payout
    if payout is None:
        raise RpcError(
            "no-payout-address", "start the node with --payout ADDRESS to use getauxblock", RPC_WALLET_NOT_FOUND
        )
    return await create_aux_block(node, payout)
