"""The ledger facade a node process drives: chainstate + mempool + block making, behind one lock.

Every mutation of the chain goes through here so the mempool follows every tip change (reorgs
included). Methods are synchronous and may take time (grinding, SQLite commits): async callers run
them in a worker thread, never on the event loop.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from hashgrad.chain.block import Block
from hashgrad.chain.coordination import STAKE_PREFIX, Stake
from hashgrad.chain.header import HEADER_SIZE
from hashgrad.chain.params import ChainParams
from hashgrad.chain.state import ACCOUNT_PREFIX, POOL_PREFIX, Account, PoolBalance, StateOverlay, get_supply
from hashgrad.chain.tx import Transaction
from hashgrad.chain.validation import apply_transaction
from hashgrad.errors import HashgradError
from hashgrad.mining.grind import grind_block
from hashgrad.mining.template import COINBASE_RESERVE, BlockTemplate, compute_block_template
from hashgrad.node.mempool import Mempool
from hashgrad.store.chainstate import AcceptResult, ChainState


@dataclass(frozen=True)
class SupplyAudit:
    issued: int
    in_accounts: int
    in_pools: int
    burned: int
    extra: tuple[tuple[str, int], ...] = ()  # other holdings (stake...) registered by later layers

    @property
    def is_balanced(self) -> bool:
        return self.issued == self.in_accounts + self.in_pools + self.burned + sum(v for _, v in self.extra)

    def to_json(self) -> dict:
        out = {
            "issued": self.issued,
            "in_accounts": self.in_accounts,
            "in_pools": self.in_pools,
            "burned": self.burned,
            "balanced": self.is_balanced,
        }
        out.update(dict(self.extra))
        return out


class Ledger:
    def __init__(self, params: ChainParams, datadir: Path, clock=time.time):
        self.params = params
        self.chainstate = ChainState(params, datadir)
        self.mempool = Mempool(params, self.chainstate)
        self.lock = threading.RLock()
        self.clock = clock
        self.listeners: list = []  # callables(AcceptResult) told after every tip change
        self.tx_listeners: list = []  # callables(Transaction) told after every mempool admission

    def now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------ writes
    def submit_block(self, block: Block) -> AcceptResult:
        with self.lock:
            result = self.chainstate.accept_block(block, self.now())
            self.mempool.update_for_chain_change(result.disconnected, result.connected)
        if result.connected or result.disconnected:
            for listener in list(self.listeners):
                listener(result)
        return result

    def submit_transaction(self, tx: Transaction) -> bytes:
        with self.lock:
            self.mempool.add(tx)
        for listener in list(self.tx_listeners):
            listener(tx)
        return tx.txid

    def build_template(self) -> BlockTemplate:
        with self.lock:
            tip = self.chainstate.tip
            now = self.now()
            ctx = self.chainstate.compute_header_context(tip, now, now)
            budget = self.params.max_block_size - HEADER_SIZE - COINBASE_RESERVE - 16
            chosen = self.select_applicable(self.mempool.select_for_block(budget), ctx.height)
            return compute_block_template(self.params, tip.hash, ctx, now, chosen)

    def select_applicable(self, candidates: list[Transaction], height: int) -> list[Transaction]:
        """Keep, in order, the candidates that apply on top of each other at `height`."""
        overlay = StateOverlay(self.chainstate)
        chosen, skipped_senders = [], set()
        for tx in candidates:
            if tx.sender in skipped_senders:
                continue  # a later nonce cannot follow a skipped one
            trial = StateOverlay(overlay)
            try:
                apply_transaction(self.params, trial, tx, height)
            except HashgradError:
                skipped_senders.add(tx.sender)
                continue
            overlay.changes.update(trial.changes)
            chosen.append(tx)
        return chosen

    def generate(self, count: int, payout: bytes, max_tries: int = 1 << 32) -> list[bytes]:
        """Make `count` blocks paying `payout` (regtest/devnet: grinds at minimum difficulty)."""
        hashes = []
        for i in range(count):
            template = self.build_template()
            extra = i.to_bytes(4, "little") + self.now().to_bytes(8, "little")
            block = grind_block(template.build_block(self.params, payout, extra), self.params.pow.pow_limit, max_tries)
            if block is None:
                raise HashgradError("grind-exhausted", "no nonce found within max_tries")
            self.submit_block(block)
            hashes.append(block.hash)
        return hashes

    # ------------------------------------------------------------ reads
    def compute_supply_audit(self) -> SupplyAudit:
        with self.lock:
            supply = get_supply(self.chainstate)
            accounts = sum(Account.deserialize(v).balance for _, v in self.chainstate.iter_state(ACCOUNT_PREFIX))
            pools = sum(PoolBalance.deserialize(v).amount for _, v in self.chainstate.iter_state(POOL_PREFIX))
            staked = sum(Stake.deserialize(v).amount for _, v in self.chainstate.iter_state(STAKE_PREFIX))
            return SupplyAudit(supply.issued, accounts, pools, supply.burned, (("staked", staked),))

    def close(self) -> None:
        self.chainstate.close()
