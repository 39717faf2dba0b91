"""The wallet document: one coldkey (funds, stake) and named hotkeys (identities of miners and
validators), each a BIP340 secp256k1 secret sealed under the wallet's password.

A wallet file (`$HASHGRAD_HOME/wallets/<NAME>.json`, the name is the file's stem) holds:

    {"type": "hashgrad-wallet", "version": 1, "network": "regtest",
     "coldkey": {"pubkey": "<64 hex>", "address": "rhg1...", "keystore": {<keystore record>}},
     "hotkeys": {"miner1": {"pubkey": ..., "address": ..., "keystore": {...}}, ...}}

Public keys and addresses are stored in the clear, so `list`, `address` and `balance` need no
password. Each key's record authenticates (network, role, public key) as associated data: a key
moved to another slot or network does not open. The network is part of the wallet; using it on
another network is `network-mismatch`.

Key derivation cost: scrypt n=2**15, r=8, p=1. Tests may lower n through the parameter `kdf` or
the environment variable `HASHGRAD_WALLET_SCRYPT_N` (a power of two >= 1024); that makes stolen
wallet files cheaper to attack, so never set it for wallets that hold value.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.encoding import parse_hex
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import get_network
from hashgrad.errors import WalletError
from hashgrad.wallet import files
from hashgrad.wallet.keystore import PRODUCTION_KDF, KdfParams, open_secret, seal_secret

WALLET_TYPE = "hashgrad-wallet"
WALLET_VERSION = 1
SCRYPT_N_ENV = "HASHGRAD_WALLET_SCRYPT_N"
MAX_HOTKEYS = 256
COLDKEY_ROLE = "coldkey"


@dataclass(frozen=True)
class KeyEntry:
    """A public key and the sealed record of its secret."""

    pubkey: bytes
    keystore: dict


@dataclass(frozen=True)
class Wallet:
    name: str
    network: str
    coldkey: KeyEntry
    hotkeys: tuple[tuple[str, KeyEntry], ...] = ()

    @property
    def hotkey_names(self) -> list[str]:
        return [name for name, _ in self.hotkeys]

    def get_entry(self, hotkey: str | None = None) -> KeyEntry:
        """The coldkey, or the named hotkey (unknown-hotkey if the wallet has none of that name)."""
        if hotkey is None:
            return self.coldkey
        for name, entry in self.hotkeys:
            if name == hotkey:
                return entry
        raise WalletError("unknown-hotkey", f"wallet {self.name!r} has no hotkey {hotkey!r}")

    def get_address(self, hotkey: str | None = None) -> str:
        return encode_address(get_network(self.network).hrp, self.get_entry(hotkey).pubkey)


def get_kdf_params(environ=os.environ) -> KdfParams:
    """Production scrypt cost, unless the test-only `HASHGRAD_WALLET_SCRYPT_N` lowers n."""
    value = environ.get(SCRYPT_N_ENV)
    if not value:
        return PRODUCTION_KDF
    if not value.isascii() or not value.isdigit():
        raise WalletError("bad-kdf-params", f"{SCRYPT_N_ENV} must be a power of two >= 1024")
    try:
        return KdfParams(n=int(value), r=PRODUCTION_KDF.r, p=PRODUCTION_KDF.p).check()
    except WalletError as exc:
        raise WalletError("bad-kdf-params", f"{SCRYPT_N_ENV}: {exc.detail}") from None


def compute_aad(network: str, role: str, pubkey: bytes) -> bytes:
    """What each sealed key authenticates besides its secret: the network, its role and public key."""
    return f"hashgrad-wallet/{WALLET_VERSION}\0{network}\0{role}\0".encode() + pubkey


def compute_hotkey_role(hotkey: str) -> str:
    return f"hotkey:{hotkey}"


def check_new_password(password: str) -> str:
    if not isinstance(password, str) or not password:
        raise WalletError("empty-password", "a wallet needs a non-empty password")
    return password


def parse_secret_hex(text: str) -> bytes:
    """A 32-byte secret from 64 hex characters (surrounding whitespace allowed). Never echoes the input."""
    cleaned = text.strip() if isinstance(text, str) else None
    return parse_hex(cleaned, "a secret key", size=32, reason="bad-secret-key", error=WalletError)


def seal_key(key: SigningKey, password: str, network: str, role: str, kdf: KdfParams) -> KeyEntry:
    return KeyEntry(key.pubkey, seal_secret(key.secret, password, compute_aad(network, role, key.pubkey), kdf))


def unseal_key(wallet: Wallet, password: str, hotkey: str | None = None) -> SigningKey:
    """The signing key of the coldkey or a hotkey; wrong-password if the password does not open it."""
    entry = wallet.get_entry(hotkey)
    role = COLDKEY_ROLE if hotkey is None else compute_hotkey_role(hotkey)
    secret = open_secret(entry.keystore, password, compute_aad(wallet.network, role, entry.pubkey))
    key = SigningKey(secret)
    if key.pubkey != entry.pubkey:  # authenticated, so only a file written by a broken wallet gets here
        raise WalletError("corrupt-wallet", "the sealed secret does not match the stored public key")
    return key


# ---------------------------------------------------------------- documents
def compute_wallet_document(wallet: Wallet) -> dict:
    hrp = get_network(wallet.network).hrp

    def entry_doc(entry: KeyEntry) -> dict:
        return {"pubkey": entry.pubkey.hex(), "address": encode_address(hrp, entry.pubkey), "keystore": entry.keystore}

    return {
        "type": WALLET_TYPE,
        "version": WALLET_VERSION,
        "network": wallet.network,
        "coldkey": entry_doc(wallet.coldkey),
        "hotkeys": {name: entry_doc(entry) for name, entry in wallet.hotkeys},
    }


def serialize_wallet(wallet: Wallet) -> bytes:
    return (json.dumps(compute_wallet_document(wallet), indent=2) + "\n").encode()


def parse_wallet(name: str, data: bytes) -> Wallet:
    """A wallet from its file's bytes; corrupt-wallet for anything malformed or inconsistent."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise WalletError("corrupt-wallet", f"wallet {name!r} is not JSON") from None
    if not isinstance(doc, dict) or doc.get("type") != WALLET_TYPE:
        raise WalletError("corrupt-wallet", f"wallet {name!r} is not a hashgrad wallet")
    if doc.get("version") != WALLET_VERSION:
        raise WalletError("corrupt-wallet", f"wallet {name!r} has unsupported version {doc.get('version')!r}")
    network = doc.get("network")
    if not isinstance(network, str):
        raise WalletError("corrupt-wallet", "missing network")
    hrp = get_network(network).hrp
    hotkeys = doc.get("hotkeys", {})
    if not isinstance(hotkeys, dict) or len(hotkeys) > MAX_HOTKEYS:
        raise WalletError("corrupt-wallet", f"hotkeys must be an object of at most {MAX_HOTKEYS} keys")
    parsed_hotkeys = tuple((files.check_name(k, "hotkey"), _parse_entry(v, hrp)) for k, v in sorted(hotkeys.items()))
    return Wallet(name, network, _parse_entry(doc.get("coldkey"), hrp), parsed_hotkeys)


def _parse_entry(doc, hrp: str) -> KeyEntry:
    if not isinstance(doc, dict) or not isinstance(doc.get("pubkey"), str) or not isinstance(doc.get("keystore"), dict):
        raise WalletError("corrupt-wallet", "a key entry has pubkey and keystore")
    pubkey = parse_hex(doc["pubkey"], "pubkey", size=32, reason="corrupt-wallet", error=WalletError)
    if doc.get("address") != encode_address(hrp, pubkey):
        raise WalletError("corrupt-wallet", "stored address does not match the public key")
    return KeyEntry(pubkey, doc["keystore"])


# ---------------------------------------------------------------- operations on disk
def is_wallet_present(home: Path, name: str) -> bool:
    return files.get_wallet_path(home, name).exists()


def load_wallet(home: Path, name: str) -> Wallet:
    return parse_wallet(name, files.read_wallet_bytes(files.get_wallet_path(home, name)))


def create_wallet(
    home: Path, name: str, network: str, password: str, kdf: KdfParams = PRODUCTION_KDF, secret: bytes | None = None
) -> Wallet:
    """Make and store a new wallet (fresh coldkey, or the given secret); wallet-exists if the name is taken."""
    path = files.get_wallet_path(home, name)
    get_network(network)
    check_new_password(password)
    key = SigningKey.generate() if secret is None else SigningKey(secret)
    wallet = Wallet(name, network, seal_key(key, password, network, COLDKEY_ROLE, kdf))
    files.ensure_wallets_dir(home)
    files.write_new_file(path, serialize_wallet(wallet))
    return wallet


def add_hotkey(
    home: Path, name: str, hotkey: str, password: str, kdf: KdfParams = PRODUCTION_KDF, secret: bytes | None = None
) -> Wallet:
    """Add a hotkey sealed under the wallet's password (checked by opening the coldkey)."""
    files.check_name(hotkey, "hotkey")
    with files.hold_wallets_lock(home):
        wallet = load_wallet(home, name)
        if hotkey in wallet.hotkey_names:
            raise WalletError("hotkey-exists", f"wallet {name!r} already has a hotkey {hotkey!r}")
        if len(wallet.hotkeys) >= MAX_HOTKEYS:
            raise WalletError("too-many-hotkeys", f"a wallet holds at most {MAX_HOTKEYS} hotkeys")
        unseal_key(wallet, password)  # same password for every key of a wallet
        key = SigningKey.generate() if secret is None else SigningKey(secret)
        entry = seal_key(key, password, wallet.network, compute_hotkey_role(hotkey), kdf)
        updated = Wallet(name, wallet.network, wallet.coldkey, tuple(sorted(wallet.hotkeys + ((hotkey, entry),))))
        files.replace_file(files.get_wallet_path(home, name), serialize_wallet(updated))
    return updated


def check_network(wallet: Wallet, network: str | None) -> None:
    """network-mismatch when a command names a network other than the wallet's own."""
    if network is not None and network != wallet.network:
        raise WalletError("network-mismatch", f"wallet {wallet.name!r} is for {wallet.network}, not {network}")
