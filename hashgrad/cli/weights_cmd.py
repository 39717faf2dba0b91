"""`hashgrad weights commit|reveal`: a validator's hotkey commits weights (a salted hash) in the
commit window and reveals them in the reveal window; a thin shell over `hashgrad.wallet.coordination`
and `hashgrad.wallet.weights` (parsing, salt files).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hashgrad.cli.wallet_cmd import _common, _connect, _load, _with_node, _with_password
from hashgrad.errors import WalletError
from hashgrad.wallet import files
from hashgrad.wallet.amounts import format_amount
from hashgrad.wallet.coordination import (
    check_epoch,
    check_job_id,
    prepare_weights,
    send_weights_commit,
    send_weights_reveal,
)
from hashgrad.wallet.password import PASSWORD_ENV, get_password
from hashgrad.wallet.wallet import unseal_key
from hashgrad.wallet.weights import (
    check_salt_record,
    format_weights,
    get_default_salt_path,
    parse_weights,
    read_salt_file,
)

WEIGHTS_DESCRIPTION = f"""\
Commit, then reveal, the weights a validator hotkey sets on a job's uids for an epoch.

  hashgrad weights commit NAME HOTKEY --job J [--epoch E] --weights "uid:w,uid:w,..." [--salt-file F]
  hashgrad weights reveal NAME HOTKEY --job J [--epoch E] [--salt-file F]

Weights: all integers are taken as the u16 values stored on chain (at most 65535 each); otherwise
(any weight written as 0.5 or 1e-3) they are non-negative decimals scaled exactly so that the largest
becomes 65535. uids are listed once each and sorted; zero weights are dropped.

commit writes a fresh 32-byte random salt and the weights to a salt file (mode 0600, never
overwritten), by default $HASHGRAD_HOME/salts/<job>-<epoch>-<hotkey pubkey hex>.json, before it
submits the commitment; reveal reads it back. --epoch defaults to the epoch of the next block.
Windows (offsets in the epoch of the block that includes the transaction): commit in
[work_reveal_end, weights_commit_end), reveal in [weights_commit_end, tempo) — see `hashgrad job J`.

The hotkey signs and pays the fees (1 base unit per byte) from its own balance: send it some coins
with `hashgrad wallet send`. The last line printed is the txid. Password: --password-file FILE, else
${PASSWORD_ENV}, else a prompt.

Errors exit 1 with `error: <reason>: detail`; reasons include bad-weights, hotkey-not-registered,
no-validator-stake, weights-commit-window-closed, weights-reveal-window-closed, bad-epoch,
duplicate-weights-commit, no-weights-commit, weights-reveal-mismatch, salt-file-exists, no-salt-file,
bad-salt-file, salt-file-mismatch, insufficient-funds, node-unreachable.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "weights",
        help="commit and reveal a validator's weights",
        description=WEIGHTS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="weights_action", metavar="ACTION", required=True)
    commit = _add_action(actions, "commit", "commit salted weights; prints the txid last")
    commit.add_argument("--weights", required=True, help='"uid:w,uid:w,..." (u16 integers or decimals)')
    commit.set_defaults(func=run_commit)
    reveal = _add_action(actions, "reveal", "reveal committed weights from their salt file; prints the txid last")
    reveal.set_defaults(func=run_reveal)


def _add_action(actions, name: str, text: str) -> argparse.ArgumentParser:
    sub = actions.add_parser(
        name,
        parents=[_common(), _with_password(), _with_node()],
        help=text,
        description=WEIGHTS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("name", help="wallet name")
    sub.add_argument("hotkey", help="name of the wallet's validator hotkey")
    sub.add_argument("--job", type=int, required=True, help="job id")
    sub.add_argument("--epoch", type=int, default=None, help="epoch (default: the epoch of the next block)")
    sub.add_argument(
        "--salt-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="salt file (default $HASHGRAD_HOME/salts/<job>-<epoch>-<hotkey pubkey hex>.json)",
    )
    return sub


def run_commit(args) -> int:

    weights = parse_weights(args.weights)
    wallet = _load(args)
    hotkey = wallet.get_entry(args.hotkey).pubkey
    client = _connect(args, wallet)
    plan = prepare_weights(client, hotkey, args.job, args.epoch, weights, commit=True)
    salt_path = args.salt_file or get_default_salt_path(files.get_home(), plan.job_id, plan.epoch, hotkey)
    if salt_path.exists():  # before the password; writing re-checks atomically
        raise WalletError(
            "salt-file-exists", f"{salt_path} already exists: reveal it, or delete it if its commit was never accepted"
        )
    key = unseal_key(wallet, get_password(args.password_file, confirm=False), args.hotkey)
    sent, _ = send_weights_commit(client, key, plan, salt_path)
    print(
        f"committed weights {format_weights(plan.weights)} for job {plan.job_id} epoch {plan.epoch} "
        f"(fee {format_amount(sent.fee)}, nonce {sent.nonce})"
    )
    print(f"salt file: {salt_path}")
    print(sent.txid)
    return 0


def run_reveal(args) -> int:

    check_job_id(args.job)
    check_epoch(args.epoch)
    wallet = _load(args)
    hotkey = wallet.get_entry(args.hotkey).pubkey
    client = _connect(args, wallet)
    epoch = client.get_job(args.job).next_block_epoch if args.epoch is None else args.epoch
    salt_path = args.salt_file or get_default_salt_path(files.get_home(), args.job, epoch, hotkey)
    record = check_salt_record(read_salt_file(salt_path), wallet.network, args.job, epoch, hotkey)
    prepare_weights(client, hotkey, args.job, epoch, record.weights, commit=False)
    key = unseal_key(wallet, get_password(args.password_file, confirm=False), args.hotkey)
    sent = send_weights_reveal(client, key, record)
    print(
        f"revealed weights {format_weights(record.weights)} for job {record.job_id} epoch {record.epoch} "
        f"(fee {format_amount(sent.fee)}, nonce {sent.nonce})"
    )
    print(sent.txid)
    return 0
