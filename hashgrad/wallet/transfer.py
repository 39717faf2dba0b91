"""Sending coins: the default fee, the funds check, building and signing a transfer, submitting it.

The nonce is the node's `pending_nonce` (after this account's pending transactions), so several
sends in a row chain in the mempool. The default fee is the mempool's minimum relay fee rate (1 base
unit per byte) times the transaction's size; a transfer's size does not depend on its field values.
Funds are checked against the balance left after pending transactions before anything is signed.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashgrad.chain.bech32 import decode_address
from hashgrad.chain.keys import SigningKey, is_valid_pubkey
from hashgrad.chain.params import ChainParams
from hashgrad.chain.tx import TX_VERSION, ZERO_KEY, Transaction, TransferPayload, TxKind, make_transfer
from hashgrad.errors import DecodeError, RpcError, WalletError
from hashgrad.node.client import NodeClient
from hashgrad.node.mempool import DEFAULT_MIN_FEE_RATE
from hashgrad.node.replies import Account
from hashgrad.wallet.amounts import format_amount

# Node rejections that mean "not enough money" although the wallet's own check passed (a race).
INSUFFICIENT_FUNDS_REASONS = ("bad-txns-balance",)


@dataclass(frozen=True)
class SentTransfer:
    txid: str
    nonce: int
    amount: int
    fee: int


def parse_recipient(params: ChainParams, address: str) -> bytes:
    """The public key of a recipient address of this network; bad-address otherwise."""
    try:
        pubkey = decode_address(params.hrp, address)
    except DecodeError as exc:
        raise WalletError("bad-address", f"{address!r}: {exc.detail}") from None
    if not is_valid_pubkey(pubkey):
        raise WalletError("bad-address", f"{address!r} does not hold a valid public key")
    return pubkey


def compute_transfer_size() -> int:
    """Bytes of a signed transfer (fixed: every field has a fixed width, the signature is 64 bytes)."""
    payload = TransferPayload(ZERO_KEY, 0).serialize()
    return Transaction(TX_VERSION, TxKind.TRANSFER, ZERO_KEY, 0, 0, payload).size


def compute_default_fee(size: int, fee_rate: int = DEFAULT_MIN_FEE_RATE) -> int:
    return size * fee_rate


def compute_transfer_fee(fee: int | None) -> int:
    """The fee a transfer pays: the one asked for, else the minimum relay fee for its size."""
    return compute_default_fee(compute_transfer_size()) if fee is None else fee


def check_sufficient_funds(account: Account, amount: int, fee: int) -> None:
    """insufficient-funds unless amount + fee fits in the balance left after pending transactions."""
    needed = amount + fee
    if needed > account.pending_balance:
        pending = account.balance - account.pending_balance
        raise WalletError(
            "insufficient-funds",
            f"need {format_amount(needed)} (amount {format_amount(amount)} + fee {format_amount(fee)}), "
            f"spendable {format_amount(account.pending_balance)} "
            f"(balance {format_amount(account.balance)}, pending out {format_amount(pending)})",
        )


def build_transfer(
    key: SigningKey, params: ChainParams, account: Account, recipient: bytes, amount: int, fee: int
) -> Transaction:
    """A signed transfer at the account's next nonce, after checking funds."""
    check_sufficient_funds(account, amount, fee)
    return make_transfer(key, params.magic, account.pending_nonce, recipient, amount, fee)


def send_transfer(
    client: NodeClient, key: SigningKey, to_address: str, amount: int, fee: int | None = None
) -> SentTransfer:
    """Build, sign and submit a transfer from `key`; the node's txid, which must be the transaction's."""
    params = client.params
    recipient = parse_recipient(params, to_address)
    fee = compute_transfer_fee(fee)
    account = client.get_account_of(key.pubkey)
    tx = build_transfer(key, params, account, recipient, amount, fee)
    return SentTransfer(submit_transaction(client, tx), tx.nonce, amount, fee)


def submit_transaction(client: NodeClient, tx: Transaction) -> str:
    """Send a signed transaction; the node's txid (checked to be the transaction's own by the client)."""
    try:
        return client.submit(tx)
    except RpcError as exc:
        if exc.reason in INSUFFICIENT_FUNDS_REASONS:
            raise WalletError("insufficient-funds", exc.detail) from None
        raise
