"""A wallet's coordination transactions over the node's RPC: register a hotkey on a job, add or
remove stake, commit and reveal validator weights.

Each action has two steps so that a command can refuse before it asks for a password:
`prepare_*` reads the node (job, accounts, stake) with public keys only and raises the reason the
chain would give (`hotkey-already-registered`, `burn-too-high`, `insufficient-stake`,
`insufficient-funds`...); `send_*` signs with the unsealed keys at the sender's next pending nonce,
submits, and returns the txid the node confirmed. The node stays the judge: its rejections come
back with its reason codes (`weights-reveal-mismatch`, `weights-commit-window-closed`...).

Who pays: the coldkey sends REGISTER (and pays the burn) and ADD/REMOVE_STAKE; the hotkey sends
COMMIT/REVEAL_WEIGHTS and pays their fees from its own balance. Fees default to the mempool's
minimum relay fee (1 base unit per byte) for the transaction's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hashgrad.chain.coordination_make import make_commit_weights, make_register, make_reveal_weights, make_stake
from hashgrad.chain.jobs import MAX_JOB_ID
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import ChainParams
from hashgrad.errors import RpcError, WalletError
from hashgrad.node.client import NodeClient
from hashgrad.node.replies import Account
from hashgrad.wallet.amounts import format_amount
from hashgrad.wallet.transfer import compute_default_fee, submit_transaction
from hashgrad.wallet.weights import SaltRecord, Weights, compute_new_salt, write_salt_file


@dataclass(frozen=True)
class SentCoordination:
    txid: str
    nonce: int
    fee: int


# ---------------------------------------------------------------- reads
def check_job_id(job_id: int) -> int:
    if type(job_id) is not int or not 0 <= job_id <= MAX_JOB_ID:
        raise WalletError("bad-job", f"a job id is 0-{MAX_JOB_ID}, got {job_id}")
    return job_id


def check_epoch(epoch: int | None) -> int | None:
    if epoch is not None and (type(epoch) is not int or not 0 <= epoch <= 0xFFFFFFFF):
        raise WalletError("bad-epoch", f"an epoch is 0-4294967295, got {epoch}")
    return epoch


# ---------------------------------------------------------------- shared steps
def compute_fee(build) -> int:
    """The minimum relay fee of the transaction `build(fee)` makes (its size does not depend on the fee)."""
    return compute_default_fee(build(0).size)


def check_funds(account: Account, needed: int, what: str, hint: str = "") -> None:
    if needed > account.pending_balance:
        raise WalletError(
            "insufficient-funds",
            f"{what} needs {format_amount(needed)}, {account.address} can spend "
            f"{format_amount(account.pending_balance)}{hint}",
        )


def sign_and_submit(client: NodeClient, signer: SigningKey, build) -> SentCoordination:
    """`build(nonce, fee)` at the signer's next pending nonce and minimum fee, submitted."""
    nonce = client.get_next_nonce(signer.pubkey)
    fee = compute_fee(lambda f: build(nonce, f))
    tx = build(nonce, fee)
    return SentCoordination(submit_transaction(client, tx), nonce, fee)


# ---------------------------------------------------------------- registration
@dataclass(frozen=True)
class RegistrationPlan:
    job_id: int
    burn: int
    max_burn: int


def prepare_registration(
    client: NodeClient, coldkey: bytes, hotkey: bytes, job_id: int, max_burn: int | None = None
) -> RegistrationPlan:
    """Check that `coldkey` can register `hotkey` on the job now; max_burn defaults to twice the burn."""
    job = client.get_job(check_job_id(job_id))
    hotkey_stake = client.get_account_of(hotkey)
    if job_id in hotkey_stake.registrations:
        raise WalletError(
            "hotkey-already-registered",
            f"uid {hotkey_stake.registrations[job_id]} on job {job_id} already holds this hotkey",
        )
    max_burn = 2 * job.burn if max_burn is None else max_burn
    if job.burn > max_burn:
        raise WalletError(
            "burn-too-high",
            f"job {job_id} burns {format_amount(job.burn)} now, above --max-burn {format_amount(max_burn)}",
        )
    fee = compute_default_fee(_registration_size(client.params))
    check_funds(
        client.get_account_of(coldkey),
        job.burn + fee,
        f"registration (burn {format_amount(job.burn)} + fee {format_amount(fee)})",
    )
    return RegistrationPlan(job_id, job.burn, max_burn)


def send_registration(
    client: NodeClient, coldkey: SigningKey, hotkey: SigningKey, plan: RegistrationPlan
) -> SentCoordination:
    """The coldkey registers the hotkey (which signs its consent), paying at most plan.max_burn."""
    return sign_and_submit(
        client,
        coldkey,
        lambda nonce, fee: make_register(coldkey, hotkey, client.params.magic, nonce, plan.job_id, plan.max_burn, fee),
    )


def _registration_size(params: ChainParams) -> int:
    dummy = SigningKey(b"\x01" * 32)
    return make_register(dummy, dummy, params.magic, 0, 0, 0, 0).size


# ---------------------------------------------------------------- stake
@dataclass(frozen=True)
class StakePlan:
    hotkey: bytes
    amount: int
    add: bool
    staked: int


def prepare_stake_change(client: NodeClient, coldkey: bytes, hotkey: bytes, amount: int, add: bool) -> StakePlan:
    """Check that `coldkey` can move `amount` to (add) or from (remove) the hotkey's stake."""
    staked = client.get_account_of(hotkey).stake
    fee = compute_default_fee(make_stake(SigningKey(b"\x01" * 32), client.params.magic, 0, hotkey, amount, add, 0).size)
    account = client.get_account_of(coldkey)
    if add:
        check_funds(account, amount + fee, f"staking {format_amount(amount)} (+ fee {format_amount(fee)})")
    else:
        if amount > staked:
            raise WalletError(
                "insufficient-stake",
                f"cannot remove {format_amount(amount)}: the hotkey has {format_amount(staked)} staked",
            )
        check_funds(account, fee, "the fee of removing stake")
    return StakePlan(hotkey, amount, add, staked)


def send_stake_change(client: NodeClient, coldkey: SigningKey, plan: StakePlan) -> SentCoordination:
    return sign_and_submit(
        client,
        coldkey,
        lambda nonce, fee: make_stake(coldkey, client.params.magic, nonce, plan.hotkey, plan.amount, plan.add, fee),
    )


# ---------------------------------------------------------------- weights
@dataclass(frozen=True)
class WeightsPlan:
    job_id: int
    epoch: int
    weights: Weights


def prepare_weights(
    client: NodeClient, hotkey: bytes, job_id: int, epoch: int | None, weights: Weights, *, commit: bool
) -> WeightsPlan:
    """Check that the hotkey can commit (or reveal) these weights; epoch defaults to the next block's."""
    job = client.get_job(check_job_id(job_id))
    check_epoch(epoch)
    address = client.get_address(hotkey)
    hotkey_stake = client.get_account(address)
    if job_id not in hotkey_stake.registrations:
        raise WalletError("hotkey-not-registered", f"hotkey {address} is not registered on job {job_id}")
    if commit and hotkey_stake.stake == 0:
        raise WalletError("no-validator-stake", "only a staked hotkey sets weights: `hashgrad stake add` first")
    if weights and weights[-1][0] >= job.n_uids:
        raise WalletError("bad-weights", f"uid {weights[-1][0]} is not registered (job {job_id} has {job.n_uids} uids)")
    size = make_reveal_weights(SigningKey(b"\x01" * 32), client.params.magic, 0, job_id, 0, weights, b"\0" * 32, 0).size
    check_funds(
        hotkey_stake,
        compute_default_fee(size),
        "the weights fee",
        " (hotkey transactions pay fees from the hotkey: `hashgrad wallet send` it some coins)",
    )
    return WeightsPlan(job_id, job.next_block_epoch if epoch is None else epoch, weights)


def send_weights_commit(
    client: NodeClient, hotkey: SigningKey, plan: WeightsPlan, salt_path: Path
) -> tuple[SentCoordination, SaltRecord]:
    """Write a fresh salt file, then commit; the file is removed if the node refuses the commit."""
    params = client.params
    record = SaltRecord(params.name, plan.job_id, plan.epoch, hotkey.pubkey, compute_new_salt(), plan.weights)
    write_salt_file(salt_path, record)
    try:
        sent = sign_and_submit(
            client,
            hotkey,
            lambda nonce, fee: make_commit_weights(
                hotkey, params.magic, nonce, plan.job_id, plan.epoch, plan.weights, record.salt, fee
            ),
        )
    except (RpcError, WalletError) as exc:
        if exc.reason != "node-unreachable":  # unreachable: the commit may have been accepted; keep the salt
            salt_path.unlink(missing_ok=True)
        raise
    return sent, record


def send_weights_reveal(client: NodeClient, hotkey: SigningKey, record: SaltRecord) -> SentCoordination:
    return sign_and_submit(
        client,
        hotkey,
        lambda nonce, fee: make_reveal_weights(
            hotkey, client.params.magic, nonce, record.job_id, record.epoch, record.weights, record.salt, fee
        ),
    )
