"""`hashgrad stake add|remove NAME HOTKEY AMOUNT`: move coins between a wallet's coldkey and the stake
of one of its hotkeys, a thin shell over `hashgrad.wallet.coordination`.

Stake makes a hotkey a validator candidate (permits go to the most-staked uids of a job) and weighs
its weights in Yuma consensus; it stays the coldkey's and comes back with `remove`.
"""

from __future__ import annotations

import argparse

from hashgrad.cli.wallet_cmd import _common, _connect, _load, _with_node, _with_password
from hashgrad.wallet.amounts import format_amount, parse_amount
from hashgrad.wallet.coordination import prepare_stake_change, send_stake_change
from hashgrad.wallet.password import PASSWORD_ENV, get_password
from hashgrad.wallet.wallet import unseal_key

STAKE_DESCRIPTION = f"""\
Stake coins from a wallet's coldkey on one of its hotkeys (add), or take them back (remove).

AMOUNT is in coins, a plain decimal with at most 8 decimals (1 coin = 10^8 base units). The coldkey
signs and pays a fee of 1 base unit per byte. The last line printed is the txid. Password:
--password-file FILE, else ${PASSWORD_ENV}, else a prompt. Node: --datadir (its .cookie), --rpcport,
--rpcconnect.

Errors exit 1 with `error: <reason>: detail`; reasons include insufficient-funds, insufficient-stake,
not-stake-owner, hotkey-owned-by-other-coldkey, unknown-hotkey, wrong-password, node-unreachable.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "stake",
        help="add or remove a hotkey's stake from the wallet's coldkey",
        description=STAKE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="stake_action", metavar="ACTION", required=True)
    for action, text in (
        ("add", "stake coins from the coldkey on the hotkey"),
        ("remove", "return staked coins from the hotkey to the coldkey"),
    ):
        sub = actions.add_parser(
            action,
            parents=[_common(), _with_password(), _with_node()],
            help=text,
            description=STAKE_DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("name", help="wallet name")
        sub.add_argument("hotkey", help="name of the wallet's hotkey")
        sub.add_argument("amount", help="coins, a decimal with at most 8 decimals")
        sub.set_defaults(func=run_stake, add=action == "add")


def run_stake(args) -> int:

    wallet = _load(args)
    amount = parse_amount(args.amount)
    hotkey = wallet.get_entry(args.hotkey).pubkey
    client = _connect(args, wallet)
    plan = prepare_stake_change(client, wallet.coldkey.pubkey, hotkey, amount, args.add)
    coldkey = unseal_key(wallet, get_password(args.password_file, confirm=False))
    sent = send_stake_change(client, coldkey, plan)
    after = plan.staked + amount if args.add else plan.staked - amount
    verb = "staking" if args.add else "unstaking"
    print(
        f"{verb} {format_amount(amount)} on hotkey {args.hotkey} (stake {format_amount(plan.staked)} -> "
        f"{format_amount(after)} once mined; fee {format_amount(sent.fee)}, nonce {sent.nonce})"
    )
    print(sent.txid)
    return 0
