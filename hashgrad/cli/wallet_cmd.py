"""`hashgrad wallet ...`: a thin shell over `hashgrad.wallet` (keys on disk) and the node's RPC.

Each action parses its arguments, gets a password where one is needed (`hashgrad.wallet.password`),
calls the library and prints. Secrets are never printed, except by `export` behind an explicit flag.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from hashgrad.chain.params import get_network
from hashgrad.cli.node_options import DEFAULT_NETWORK, add_node_arguments, connect_from_args
from hashgrad.errors import HashgradError, WalletError
from hashgrad.node.client import NodeClient
from hashgrad.wallet import files
from hashgrad.wallet.amounts import format_amount, parse_amount
from hashgrad.wallet.coordination import prepare_registration, send_registration
from hashgrad.wallet.password import PASSWORD_ENV, get_password
from hashgrad.wallet.transfer import check_sufficient_funds, compute_transfer_fee, parse_recipient, send_transfer
from hashgrad.wallet.wallet import (
    SCRYPT_N_ENV,
    Wallet,
    add_hotkey,
    check_network,
    create_wallet,
    get_kdf_params,
    is_wallet_present,
    load_wallet,
    parse_secret_hex,
    unseal_key,
)

MAX_SECRET_INPUT = 1024
BALANCE_JSON_FIELDS = ("address", "balance", "nonce", "pending_nonce", "pending_balance", "pending_txs", "height")

WALLET_DESCRIPTION = f"""\
Keys for hashgrad: a coldkey (funds, stake) and named hotkeys (identities of miners and validators).

Wallets live in $HASHGRAD_HOME/wallets/<NAME>.json (HASHGRAD_HOME defaults to ~/.hashgrad), mode
0600, every key sealed with scrypt (n=2^15, r=8, p=1) + AES-256-GCM under the wallet's password.
A wallet belongs to one network (--network at create, default {DEFAULT_NETWORK}); naming another
network later is an error (network-mismatch).

Password: --password-file FILE (first line), else ${PASSWORD_ENV}, else a prompt (twice for a new
wallet). ${SCRYPT_N_ENV} lowers the scrypt cost for tests only: never for wallets holding value.

balance, send, history and register talk to a node over JSON-RPC: --datadir DIR is the node's
datadir holding its .cookie, --rpcport (default the network's), --rpcconnect HOST,
--rpcclienttimeout SECONDS; the node must run the wallet's network.

Errors exit 1 with `error: <reason>: detail`; reasons include wrong-password, corrupt-wallet,
unknown-wallet, wallet-exists, unknown-hotkey, hotkey-exists, network-mismatch, bad-address,
bad-amount, bad-fee, insufficient-funds, node-unreachable; register adds hotkey-already-registered,
burn-too-high, bad-max-burn and the node's own reasons.
"""


# ---------------------------------------------------------------- parser
def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "wallet",
        help="coldkey and hotkeys; balance, send, history",
        description=WALLET_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="wallet_action", metavar="ACTION", required=True)
    _register_offline(actions)
    _register_hotkey(actions)
    _register_online(actions)
    _register_coordination(actions)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--network",
        default=None,
        help=f"hashgrad network (create: default {DEFAULT_NETWORK}; others: must match the wallet's)",
    )
    return common


def _with_password() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--password-file",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"read the password from FILE's first line (else ${PASSWORD_ENV}, else a prompt)",
    )
    return parent


def _with_node() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    add_node_arguments(parent, network=False)  # the wallet's network: --network of _common() must match it
    return parent


def _with_hotkey() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--hotkey", default=None, help="use this hotkey instead of the coldkey")
    return parent


def _register_offline(actions) -> None:
    common, password, hotkey = _common(), _with_password(), _with_hotkey()
    create = actions.add_parser("create", parents=[common, password], help="new wallet; prints its address last")
    create.add_argument("name")
    create.set_defaults(func=run_create)
    imp = actions.add_parser(
        "import", parents=[common, password], help="wallet from a 64-hex secret read from stdin (or a hidden prompt)"
    )
    imp.add_argument("name")
    imp.set_defaults(func=run_import)
    listing = actions.add_parser("list", help="wallets, their networks, addresses and hotkeys")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)
    address = actions.add_parser(
        "address", parents=[common, hotkey], help="print the coldkey's (or a hotkey's) address"
    )
    address.add_argument("name")
    address.set_defaults(func=run_address)
    export = actions.add_parser(
        "export", parents=[common, password, hotkey], help="print a secret key in hex (needs --i-know-what-i-am-doing)"
    )
    export.add_argument("name")
    export.add_argument(
        "--i-know-what-i-am-doing",
        dest="confirmed",
        action="store_true",
        help="anyone who sees the printed secret can spend the funds",
    )
    export.set_defaults(func=run_export)


def _register_hotkey(actions) -> None:
    hotkey = actions.add_parser("hotkey", help="hotkeys: new, list")
    hotkey_actions = hotkey.add_subparsers(dest="hotkey_action", metavar="ACTION", required=True)
    new = hotkey_actions.add_parser(
        "new", parents=[_common(), _with_password()], help="add a hotkey to a wallet; prints its address last"
    )
    new.add_argument("name")
    new.add_argument("hotkey")
    new.set_defaults(func=run_hotkey_new)
    listing = hotkey_actions.add_parser("list", parents=[_common()], help="a wallet's hotkeys and addresses")
    listing.add_argument("name")
    listing.set_defaults(func=run_hotkey_list)


def _register_online(actions) -> None:
    common, password, node, hotkey = _common(), _with_password(), _with_node(), _with_hotkey()
    balance = actions.add_parser("balance", parents=[common, node, hotkey], help="balance from a node")
    balance.add_argument("name")
    balance.add_argument("--json", action="store_true", help="base units as JSON")
    balance.set_defaults(func=run_balance)
    send = actions.add_parser(
        "send", parents=[common, password, node, hotkey], help="sign and submit a transfer; prints the txid last"
    )
    send.add_argument("name")
    send.add_argument("to_address")
    send.add_argument("amount", help="coins, a decimal with at most 8 decimals (1 coin = 10^8 base units)")
    send.add_argument("--fee", default=None, help="fee in coins (default: 1 base unit per byte, the minimum relay fee)")
    send.set_defaults(func=run_send)
    history = actions.add_parser("history", parents=[common, node, hotkey], help="transactions from a node")
    history.add_argument("name")
    history.add_argument("--limit", type=int, default=100, help="at most this many (1-1000)")
    history.add_argument("--json", action="store_true")
    history.set_defaults(func=run_history)


def _register_coordination(actions) -> None:
    register_parser = actions.add_parser(
        "register",
        parents=[_common(), _with_password(), _with_node()],
        help="register a hotkey on a job, the coldkey paying the burn; prints the txid last",
    )
    register_parser.add_argument("name")
    register_parser.add_argument("hotkey", help="name of the wallet's hotkey to register (it signs its consent)")
    register_parser.add_argument("--job", type=int, required=True, help="job id (0: train the default model)")
    register_parser.add_argument(
        "--max-burn",
        default=None,
        metavar="COINS",
        help="refuse to burn more than this (default: twice the job's current burn)",
    )
    register_parser.set_defaults(func=run_register)


# ---------------------------------------------------------------- offline actions
def run_create(args) -> int:
    home, network = files.get_home(), args.network or DEFAULT_NETWORK
    get_network(network)
    _check_absent(home, args.name)
    password = get_password(args.password_file, confirm=True)
    wallet = create_wallet(home, args.name, network, password, get_kdf_params())
    _print_created(home, wallet)
    return 0


def run_import(args) -> int:
    home, network = files.get_home(), args.network or DEFAULT_NETWORK
    get_network(network)
    _check_absent(home, args.name)
    secret = parse_secret_hex(read_secret_input())
    password = get_password(args.password_file, confirm=True)
    wallet = create_wallet(home, args.name, network, password, get_kdf_params(), secret=secret)
    _print_created(home, wallet)
    return 0


def read_secret_input() -> str:
    """The secret key text: a hidden prompt on a terminal, else stdin (never argv: it shows in `ps`)."""
    if sys.stdin.isatty():
        return getpass.getpass("Secret key (64 hex characters): ")
    return sys.stdin.read(MAX_SECRET_INPUT)


def run_list(args) -> int:
    home = files.get_home()
    rows = [_describe_wallet(home, name) for name in files.list_wallet_names(home)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no wallets in {files.get_wallets_dir(home)}")
    for row in rows:
        if "error" in row:
            print(f"{row['name']:<20} {row['error']}")
        else:
            print(
                f"{row['name']:<20} {row['network']:<8} {row['address']}  hotkeys: {', '.join(row['hotkeys']) or '-'}"
            )
    return 0


def run_address(args) -> int:
    wallet = _load(args)
    print(wallet.get_address(args.hotkey))
    return 0


def run_export(args) -> int:
    if not args.confirmed:
        raise WalletError(
            "export-not-confirmed", "add --i-know-what-i-am-doing: the secret gives full control of the key"
        )
    wallet = _load(args)
    key = unseal_key(wallet, get_password(args.password_file, confirm=False), args.hotkey)
    print("warning: anyone who sees this secret can spend from and act as this key", file=sys.stderr)
    print(key.secret.hex())
    return 0


def run_hotkey_new(args) -> int:
    home = files.get_home()
    check_network(load_wallet(home, args.name), args.network)
    password = get_password(args.password_file, confirm=False)
    wallet = add_hotkey(home, args.name, args.hotkey, password, get_kdf_params())
    print(f"added hotkey {args.hotkey} to wallet {args.name} ({wallet.network})")
    print(wallet.get_address(args.hotkey))
    return 0


def run_hotkey_list(args) -> int:
    wallet = _load(args)
    if not wallet.hotkeys:
        print(f"wallet {wallet.name} has no hotkeys")
    for name in wallet.hotkey_names:
        print(f"{name:<20} {wallet.get_address(name)}")
    return 0


# ---------------------------------------------------------------- node actions
def run_balance(args) -> int:
    wallet = _load(args)
    summary = _connect(args, wallet).get_account(wallet.get_address(args.hotkey))
    if args.json:
        print(json.dumps({name: getattr(summary, name) for name in BALANCE_JSON_FIELDS}, indent=2))
        return 0
    pending = summary.balance - summary.pending_balance
    print(f"address    {summary.address}")
    print(f"balance    {format_amount(summary.balance)}  (at height {summary.height})")
    print(
        f"spendable  {format_amount(summary.pending_balance)}  "
        f"({summary.pending_txs} pending out: {format_amount(pending)})"
    )
    print(f"nonce      {summary.nonce}  (next {summary.pending_nonce})")
    return 0


def run_send(args) -> int:

    wallet = _load(args)
    params = get_network(wallet.network)
    parse_recipient(params, args.to_address)  # fail on bad input or a poor account before asking for a password
    amount = parse_amount(args.amount)
    fee = compute_transfer_fee(None if args.fee is None else parse_amount(args.fee, allow_zero=True, reason="bad-fee"))
    client = _connect(args, wallet)
    check_sufficient_funds(client.get_account(wallet.get_address(args.hotkey)), amount, fee)
    key = unseal_key(wallet, get_password(args.password_file, confirm=False), args.hotkey)
    sent = send_transfer(client, key, args.to_address, amount, fee)
    print(f"sent {format_amount(sent.amount)} to {args.to_address} (fee {format_amount(sent.fee)}, nonce {sent.nonce})")
    print(sent.txid)
    return 0


def run_history(args) -> int:
    if not 1 <= args.limit <= 1000:
        raise WalletError("bad-limit", "--limit is 1 to 1000")
    wallet = _load(args)
    items = _connect(args, wallet).get_address_history(wallet.get_address(args.hotkey), args.limit)
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    if not items:
        print("no transactions")
    for item in items:
        print(format_history_item(item))
    return 0


def format_history_item(item: dict) -> str:
    """One line: confirmations (or pending), direction, amount, fee, counterparty, txid."""
    when = f"{item.get('confirmations')} conf" if item.get("height") is not None else "pending"
    direction = item.get("direction", "?")
    amount = item.get("amount")
    amount_text = format_amount(amount) if type(amount) is int else "-"
    sign = "-" if direction == "out" else "+"
    counterparty = item.get("recipient") if direction == "out" else (item.get("sender") or item.get("kind"))
    fee = item.get("fee")
    fee_text = f" fee {format_amount(fee)}" if direction == "out" and type(fee) is int else ""
    return f"{when:>12}  {item.get('kind', '?'):<9} {sign}{amount_text}{fee_text}  {counterparty}  {item.get('txid')}"


def run_register(args) -> int:

    wallet = _load(args)
    max_burn = None if args.max_burn is None else parse_amount(args.max_burn, reason="bad-max-burn")
    client = _connect(args, wallet)
    plan = prepare_registration(client, wallet.coldkey.pubkey, wallet.get_entry(args.hotkey).pubkey, args.job, max_burn)
    password = get_password(args.password_file, confirm=False)
    coldkey, hotkey = unseal_key(wallet, password), unseal_key(wallet, password, args.hotkey)
    sent = send_registration(client, coldkey, hotkey, plan)
    print(
        f"registering hotkey {args.hotkey} on job {plan.job_id}: burn {format_amount(plan.burn)} "
        f"(at most {format_amount(plan.max_burn)}), fee {format_amount(sent.fee)}, nonce {sent.nonce}"
    )
    print(sent.txid)
    return 0


# ---------------------------------------------------------------- helpers
def _check_absent(home: Path, name: str) -> None:
    if is_wallet_present(home, name):  # before asking for a password; creation re-checks atomically
        raise WalletError("wallet-exists", f"{files.get_wallet_path(home, name)} already exists; choose another name")


def _print_created(home: Path, wallet: Wallet) -> None:
    print(f"created wallet {wallet.name} ({wallet.network}) at {files.get_wallet_path(home, wallet.name)}")
    print("coldkey address:")
    print(wallet.get_address())


def _load(args) -> Wallet:
    wallet = load_wallet(files.get_home(), args.name)
    check_network(wallet, args.network)
    return wallet


def _describe_wallet(home: Path, name: str) -> dict:
    try:
        wallet = load_wallet(home, name)
    except HashgradError as exc:
        return {"name": name, "error": exc.reason}
    return {"name": name, "network": wallet.network, "address": wallet.get_address(), "hotkeys": wallet.hotkey_names}


def _connect(args, wallet: Wallet) -> NodeClient:
    """A client of the node named by the node options, checked to run the wallet's network."""
    return connect_from_args(args, network=wallet.network)
