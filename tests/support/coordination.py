"""A small regtest network for the incentive-layer tests: a real `Ledger` (SQLite chainstate, mempool,
block maker) driven by a fake clock, with helpers that fund keys, register hotkeys, stake, and walk a
job's epoch window by window (commit work → reveal work → commit weights → reveal weights → epoch end).

Everything goes through the real path: transactions are signed by the real builders
(`chain.coordination_make`), admitted by the mempool, mined by `Ledger.generate` and connected by the
chainstate. A helper only chooses inputs (who sends what, at which block offset).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from hashgrad.chain.coordination import weights_commit_key, work_commit_key, work_reveal_key
from hashgrad.chain.coordination_make import (
    make_commit_weights,
    make_commit_work,
    make_register,
    make_reveal_weights,
    make_reveal_work,
    make_stake,
)
from hashgrad.chain.coordination_rules import get_job_params, get_stake, get_stats, get_uid
from hashgrad.chain.jobs import JobParams, compute_epoch, compute_epoch_offset
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import HASHGRAD_REGTEST, ChainParams
from hashgrad.chain.state import get_account, get_pool
from hashgrad.chain.tx import Transaction, make_transfer
from hashgrad.errors import HashgradError
from hashgrad.node.ledger import Ledger, SupplyAudit
from hashgrad.store.chainstate import ChainState

PARAMS = HASHGRAD_REGTEST
COIN = 100_000_000
FEE = 1_000
BASE = hashlib.sha256(b"checkpoint 0").digest()  # the base checkpoint every miner starts from

Weights = tuple[tuple[int, int], ...]


def make_key(label: str) -> SigningKey:
    return SigningKey(hashlib.sha256(b"hashgrad incentive test key " + label.encode()).digest())


FUNDER = make_key("funder")  # every block pays its maker reward here; the funder pays everybody else


def compute_artifact(hotkey: bytes, epoch: int, tag: bytes = b"") -> bytes:
    """A stand-in artifact id: what a miner's pseudo-gradient for this epoch would hash to."""
    return hashlib.sha256(b"artifact" + hotkey + epoch.to_bytes(4, "little") + tag).digest()


def compute_salt(hotkey: bytes, epoch: int) -> bytes:
    return hashlib.sha256(b"salt" + hotkey + epoch.to_bytes(4, "little")).digest()


def with_job(params: ChainParams = PARAMS, job_id: int = 0, **changes) -> ChainParams:
    """Regtest with one job's parameters changed (a different genesis: a different chain)."""
    jobs = tuple(replace(job, **changes) if job.job_id == job_id else job for job in params.jobs)
    return replace(params, jobs=jobs)


@dataclass(frozen=True)
class Member:
    """A participant: the coldkey that owns funds and stake, the hotkey that works on the job."""

    name: str
    cold: SigningKey
    hot: SigningKey

    @classmethod
    def named(cls, name: str) -> Member:
        return cls(name, make_key(name + "/cold"), make_key(name + "/hot"))


def compute_weights(net: Net, values: dict[Member, int], job_id: int = 0) -> Weights:
    """A weights row as the chain wants it: (uid, u16) sorted by uid, zero weights left out."""
    return tuple(sorted((net.uid(member, job_id), value) for member, value in values.items() if value))


class FakeClock:
    """Time as an input: 60 seconds more at every reading, from the genesis time."""

    def __init__(self, start: int):
        self.now = start

    def __call__(self) -> int:
        self.now += 60
        return self.now


@dataclass
class Net:
    """One node's ledger plus the bookkeeping the tests assert on (a supply audit after every block)."""

    ledger: Ledger
    audits: list[tuple[int, SupplyAudit]] = field(default_factory=list)
    audit_every_block: bool = True
    observers: list[Callable[[Net], None]] = field(default_factory=list)  # called after every block

    @classmethod
    def create(cls, datadir: Path, params: ChainParams = PARAMS, clock: FakeClock | None = None) -> Net:
        """A node on a fresh datadir; nodes that exchange blocks share one clock."""
        return cls(Ledger(params, datadir, clock=clock or FakeClock(params.genesis_time)))

    @property
    def params(self) -> ChainParams:
        return self.ledger.params

    @property
    def chainstate(self) -> ChainState:
        return self.ledger.chainstate

    @property
    def height(self) -> int:
        return self.chainstate.height

    def job(self, job_id: int = 0) -> JobParams:
        return get_job_params(self.params, job_id)

    # ------------------------------------------------------------------ blocks and transactions
    def mine(self, count: int = 1) -> None:
        for _ in range(count):
            self.ledger.generate(1, FUNDER.pubkey)
            if self.audit_every_block:
                self.audits.append((self.height, self.ledger.compute_supply_audit()))
            for observe in self.observers:
                observe(self)

    def mine_to(self, height: int) -> None:
        """Mine until the tip is at `height` (never backwards)."""
        if height < self.height:
            raise ValueError(f"tip {self.height} is already past {height}")
        self.mine(height - self.height)

    def advance_to_offset(self, epoch: int, offset: int, job_id: int = 0) -> None:
        """Mine until the *next* block is at `offset` of `epoch`: transactions sent now land there."""
        self.mine_to(epoch * self.job(job_id).tempo + offset)

    def finish_epoch(self, epoch: int, job_id: int = 0) -> None:
        """Mine through the last block of `epoch`, whose connect runs the epoch's consensus."""
        self.mine_to((epoch + 1) * self.job(job_id).tempo)

    def nonce(self, key: SigningKey) -> int:
        return self.ledger.mempool.get_next_nonce(key.pubkey)

    def send(self, key: SigningKey, build: Callable[..., Transaction], *args, **kwargs) -> Transaction:
        """Sign `build(key, magic, next nonce, *args)` and submit it to the mempool (raises on refusal)."""
        tx = build(key, self.params.magic, self.nonce(key), *args, **kwargs)
        self.ledger.submit_transaction(tx)
        return tx

    def reject_reason(self, key: SigningKey, build: Callable[..., Transaction], *args, **kwargs) -> str:
        """The reason the mempool gives for refusing the transaction; nothing may change."""
        tx = build(key, self.params.magic, self.nonce(key), *args, **kwargs)
        return self.reject_tx(tx)

    def reject_tx(self, tx: Transaction) -> str:
        size, tip = len(self.ledger.mempool), self.chainstate.tip.hash
        with pytest.raises(HashgradError) as info:
            self.ledger.submit_transaction(tx)
        assert len(self.ledger.mempool) == size and self.chainstate.tip.hash == tip
        return info.value.reason

    # ------------------------------------------------------------------ reads
    def balance(self, pubkey: bytes) -> int:
        return get_account(self.chainstate, pubkey).balance

    def pool(self, job_id: int = 0) -> int:
        return get_pool(self.chainstate, job_id)

    def uid(self, member: Member, job_id: int = 0) -> int | None:
        return get_uid(self.chainstate, job_id, member.hot.pubkey)

    def stake(self, member: Member) -> int:
        stake = get_stake(self.chainstate, member.hot.pubkey)
        return stake.amount if stake else 0

    def stats(self, member: Member, job_id: int = 0):
        return get_stats(self.chainstate, job_id, self.uid(member, job_id))

    # ------------------------------------------------------------------ setup
    def fund(self, amounts: dict[bytes, int]) -> None:
        """Transfer from the funder (mining to it first as needed), then mine the transfers."""
        need = sum(amounts.values()) + FEE * len(amounts)
        while self.balance(FUNDER.pubkey) < need:
            self.mine()
        for pubkey, amount in amounts.items():
            self.send(FUNDER, make_transfer, pubkey, amount, FEE)
        self.mine()

    def make_register(
        self, member: Member, job_id: int = 0, max_burn: int = 10 * COIN, signer: SigningKey | None = None
    ) -> Transaction:
        """The member's coldkey registering its hotkey (`make_register` takes the hotkey before the magic)."""
        cold = signer or member.cold
        return make_register(cold, member.hot, self.params.magic, self.nonce(cold), job_id, max_burn)

    def register(self, member: Member, job_id: int = 0, max_burn: int = 10 * COIN) -> Transaction:
        tx = self.make_register(member, job_id, max_burn)
        self.ledger.submit_transaction(tx)
        return tx

    def join(
        self, members: list[Member], stakes: dict[str, int] | None = None, job_id: int = 0, cold_coins: int = 2 * COIN
    ) -> None:
        """Fund each member (coldkey: burn + stake + fees; hotkey: 1 coin for fees), register every
        hotkey on the job, and stake what `stakes` says (by member name); two blocks in all."""
        stakes = stakes or {}
        amounts = {}
        for member in members:
            amounts[member.cold.pubkey] = cold_coins + stakes.get(member.name, 0)
            amounts[member.hot.pubkey] = COIN
        self.fund(amounts)
        for member in members:
            self.register(member, job_id)
            if stakes.get(member.name):
                self.send(member.cold, make_stake, member.hot.pubkey, stakes[member.name])
        self.mine()

    # ------------------------------------------------------------------ one epoch, window by window
    def run_epoch(
        self, epoch: int, miners: dict[Member, str], validators: dict[Member, Callable[[Net], Weights]], job_id: int = 0
    ) -> None:
        """Walk `epoch` of the job from its first block to its last.

        miners: member → "reveal" (commit, then reveal its artifact) or "commit-only" (never reveals).
        validators: member → function of the net returning its weights, called in the weights-commit
        window (so a copier can read the chain as it is then); each commits, then reveals them.
        """
        job = self.job(job_id)
        self.advance_to_offset(epoch, 0, job_id)
        for member in miners:
            self.send(member.hot, make_commit_work, job_id, epoch, compute_artifact(member.hot.pubkey, epoch), BASE)
        self.advance_to_offset(epoch, job.work_commit_end, job_id)
        for member, action in miners.items():
            if action == "reveal":
                self.send(member.hot, make_reveal_work, job_id, epoch, compute_artifact(member.hot.pubkey, epoch), BASE)
        self.advance_to_offset(epoch, job.work_reveal_end, job_id)
        chosen = {member: choose(self) for member, choose in validators.items()}
        for member, weights in chosen.items():
            self.send(member.hot, make_commit_weights, job_id, epoch, weights, compute_salt(member.hot.pubkey, epoch))
        self.advance_to_offset(epoch, job.weights_commit_end, job_id)
        for member, weights in chosen.items():
            self.send(member.hot, make_reveal_weights, job_id, epoch, weights, compute_salt(member.hot.pubkey, epoch))
        self.finish_epoch(epoch, job_id)

    def close(self) -> None:
        self.ledger.close()


class Autopilot:
    """Drives one producer's chain block by block, doing at each block what a live job would: miners
    commit at offset 0 and (mostly) reveal when the reveal window opens; validators commit random
    weights when the weights window opens and reveal them when theirs does; now and then a validator's
    coldkey adds or removes stake and a newcomer registers. What was already done is read from the
    chain (commit records), so a producer can take over a chain another one started."""

    def __init__(
        self,
        net: Net,
        miners: list[Member],
        validators: list[Member],
        newcomers: list[Member],
        rng,
        job_id: int = 0,
        reveal_rate: float = 0.8,
    ):
        self.net, self.miners, self.validators, self.newcomers = net, miners, validators, list(newcomers)
        self.rng, self.job_id, self.reveal_rate = rng, job_id, reveal_rate
        self.pending: dict[tuple[int, str], Weights] = {}

    def step(self, count: int = 1) -> None:
        for _ in range(count):
            self.act(self.net.height + 1)
            self.net.mine()

    def act(self, height: int) -> None:
        net, job, rng = self.net, self.net.job(self.job_id), self.rng
        epoch, offset = compute_epoch(height, job.tempo), compute_epoch_offset(height, job.tempo)
        state = net.chainstate
        if offset == 0:
            for member in self.miners:
                if state.get(work_commit_key(self.job_id, epoch, net.uid(member))) is None:
                    net.send(
                        member.hot,
                        make_commit_work,
                        self.job_id,
                        epoch,
                        compute_artifact(member.hot.pubkey, epoch),
                        BASE,
                    )
        elif offset == job.work_commit_end:
            for member in self.miners:
                uid = net.uid(member)
                if (
                    state.get(work_commit_key(self.job_id, epoch, uid)) is not None
                    and state.get(work_reveal_key(self.job_id, epoch, uid)) is None
                    and rng.random() < self.reveal_rate
                ):
                    net.send(
                        member.hot,
                        make_reveal_work,
                        self.job_id,
                        epoch,
                        compute_artifact(member.hot.pubkey, epoch),
                        BASE,
                    )
        elif offset == job.work_reveal_end:
            for member in self.validators:
                if state.get(weights_commit_key(self.job_id, epoch, net.uid(member))) is None:
                    weights = compute_weights(net, {m: rng.randrange(0, 65536) for m in self.miners})
                    self.pending[(epoch, member.name)] = weights
                    net.send(
                        member.hot,
                        make_commit_weights,
                        self.job_id,
                        epoch,
                        weights,
                        compute_salt(member.hot.pubkey, epoch),
                    )
        elif offset == job.weights_commit_end:
            for member in self.validators:
                weights = self.pending.pop((epoch, member.name), None)
                if weights is not None:
                    net.send(
                        member.hot,
                        make_reveal_weights,
                        self.job_id,
                        epoch,
                        weights,
                        compute_salt(member.hot.pubkey, epoch),
                    )
        if rng.random() < 0.15:
            member = rng.choice(self.validators)
            add = rng.random() < 0.5 or net.stake(member) < COIN
            net.send(member.cold, make_stake, member.hot.pubkey, rng.randrange(1, COIN), add=add)
        waiting = [member for member in self.newcomers if net.uid(member, self.job_id) is None]
        if waiting and rng.random() < 0.05:
            net.register(waiting[0], self.job_id)
