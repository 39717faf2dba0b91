"""Tests for hashgrad.wallet.wallet and hashgrad.wallet.files: the wallet document on disk."""

from __future__ import annotations

import json
import stat
import threading

import pytest

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.keys import SigningKey
from hashgrad.errors import HashgradError, WalletError
from hashgrad.wallet import files
from hashgrad.wallet.keystore import PRODUCTION_KDF, KdfParams
from hashgrad.wallet.wallet import (
    add_hotkey,
    check_network,
    create_wallet,
    get_kdf_params,
    load_wallet,
    parse_secret_hex,
    unseal_key,
)

PW = "pw"
TEST_KDF = KdfParams(n=2**10)  # test-only cost; production is 2**15


def _reason(exc_info) -> str:
    return exc_info.value.reason


def test_create_load_unseal_round_trip(tmp_path):
    wallet = create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    loaded = load_wallet(tmp_path, "alice")
    assert loaded == wallet
    key = unseal_key(loaded, PW)
    assert key.pubkey == wallet.coldkey.pubkey
    assert loaded.get_address() == encode_address("rhg", key.pubkey)
    assert key.secret.hex() not in files.get_wallet_path(tmp_path, "alice").read_text()


def test_files_are_0600_in_a_0700_folder(tmp_path):
    create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    add_hotkey(tmp_path, "alice", "miner", PW, TEST_KDF)
    path = files.get_wallet_path(tmp_path, "alice")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_import_keeps_the_given_secret(tmp_path):
    secret = bytes.fromhex("11" * 32)
    wallet = create_wallet(tmp_path, "imported", "devnet", PW, TEST_KDF, secret=secret)
    assert unseal_key(load_wallet(tmp_path, "imported"), PW).secret == secret
    assert wallet.get_address().startswith("dhg1")


def test_create_never_overwrites(tmp_path):
    create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    before = files.get_wallet_path(tmp_path, "alice").read_bytes()
    with pytest.raises(WalletError) as info:
        create_wallet(tmp_path, "alice", "regtest", "other", TEST_KDF)
    assert _reason(info) == "wallet-exists"
    assert files.get_wallet_path(tmp_path, "alice").read_bytes() == before


def test_unknown_wallet(tmp_path):
    with pytest.raises(WalletError) as info:
        load_wallet(tmp_path, "nobody")
    assert _reason(info) == "unknown-wallet"


@pytest.mark.parametrize("name", ["", ".hidden", "../escape", "a/b", "-x", "x" * 65, "caf\u00e9", "a b"])
def test_bad_wallet_names(tmp_path, name):
    with pytest.raises(WalletError) as info:
        create_wallet(tmp_path, name, "regtest", PW, TEST_KDF)
    assert _reason(info) == "bad-wallet-name"
    assert not (tmp_path / "escape.json").exists()


def test_empty_password_and_unknown_network(tmp_path):
    with pytest.raises(WalletError) as info:
        create_wallet(tmp_path, "alice", "regtest", "", TEST_KDF)
    assert _reason(info) == "empty-password"
    with pytest.raises(HashgradError) as info:
        create_wallet(tmp_path, "alice", "mainnet", PW, TEST_KDF)
    assert _reason(info) == "unknown-network"


def test_hotkeys_add_unseal_and_refuse_duplicates(tmp_path):
    create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    add_hotkey(tmp_path, "alice", "validator", PW, TEST_KDF)
    wallet = add_hotkey(tmp_path, "alice", "miner", PW, TEST_KDF)
    assert wallet.hotkey_names == ["miner", "validator"]
    keys = {name: unseal_key(load_wallet(tmp_path, "alice"), PW, name) for name in wallet.hotkey_names}
    assert len({k.pubkey for k in keys.values()} | {wallet.coldkey.pubkey}) == 3
    assert wallet.get_address("miner") == encode_address("rhg", keys["miner"].pubkey)
    with pytest.raises(WalletError) as info:
        add_hotkey(tmp_path, "alice", "miner", PW, TEST_KDF)
    assert _reason(info) == "hotkey-exists"
    with pytest.raises(WalletError) as info:
        wallet.get_address("nope")
    assert _reason(info) == "unknown-hotkey"
    with pytest.raises(WalletError) as info:
        add_hotkey(tmp_path, "alice", "../x", PW, TEST_KDF)
    assert _reason(info) == "bad-hotkey-name"


def test_hotkey_with_wrong_password_changes_nothing(tmp_path):
    create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    before = files.get_wallet_path(tmp_path, "alice").read_bytes()
    with pytest.raises(WalletError) as info:
        add_hotkey(tmp_path, "alice", "miner", "wrong", TEST_KDF)
    assert _reason(info) == "wrong-password"
    assert files.get_wallet_path(tmp_path, "alice").read_bytes() == before


def test_concurrent_hotkey_additions_are_all_kept(tmp_path):
    create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    threads = [threading.Thread(target=add_hotkey, args=(tmp_path, "alice", f"hk{i}", PW, TEST_KDF)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert load_wallet(tmp_path, "alice").hotkey_names == [f"hk{i}" for i in range(6)]


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    path = files.get_wallet_path(tmp_path, "alice")
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(OSError):
        add_hotkey(tmp_path, "alice", "miner", PW, TEST_KDF)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [".lock", "alice.json"]


def test_leftover_temp_file_is_ignored(tmp_path):
    create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    folder = files.get_wallets_dir(tmp_path)
    (folder / ".alice.json.deadbeef.tmp").write_text('{"half": ')  # as a crash mid-write would leave
    assert files.list_wallet_names(tmp_path) == ["alice"]
    assert unseal_key(load_wallet(tmp_path, "alice"), PW)


# ---------------------------------------------------------------- tampered or corrupt files
def _edit(tmp_path, name, change) -> None:
    path = files.get_wallet_path(tmp_path, name)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _open_reason(tmp_path, name="alice", hotkey=None) -> str:
    with pytest.raises(HashgradError) as info:
        unseal_key(load_wallet(tmp_path, name), PW, hotkey)
    return _reason(info)


def test_tampered_ciphertext_does_not_open(tmp_path):
    create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)

    def flip(doc):
        text = doc["coldkey"]["keystore"]["ciphertext"]
        doc["coldkey"]["keystore"]["ciphertext"] = ("0" if text[0] != "0" else "1") + text[1:]

    _edit(tmp_path, "alice", flip)
    assert _open_reason(tmp_path) == "wrong-password"


def test_swapped_pubkey_and_address_does_not_open(tmp_path):
    create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    other = SigningKey.generate().pubkey

    def swap(doc):
        doc["coldkey"]["pubkey"] = other.hex()
        doc["coldkey"]["address"] = encode_address("rhg", other)

    _edit(tmp_path, "alice", swap)
    assert _open_reason(tmp_path) == "wrong-password"  # the pubkey is authenticated data


def test_hotkey_record_moved_to_coldkey_slot_does_not_open(tmp_path):
    create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    add_hotkey(tmp_path, "alice", "miner", PW, TEST_KDF)
    _edit(tmp_path, "alice", lambda doc: doc.update(coldkey=doc["hotkeys"]["miner"]))
    assert _open_reason(tmp_path) == "wrong-password"  # the role is authenticated data


def test_wallet_moved_to_another_network_does_not_open(tmp_path):
    wallet = create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)

    def move(doc):
        doc["network"] = "devnet"
        doc["coldkey"]["address"] = encode_address("dhg", wallet.coldkey.pubkey)

    _edit(tmp_path, "alice", move)
    assert _open_reason(tmp_path) == "wrong-password"


@pytest.mark.parametrize(
    "change",
    [
        lambda doc: doc.update(version=2),
        lambda doc: doc.update(type="something"),
        lambda doc: doc.pop("coldkey"),
        lambda doc: doc["coldkey"].update(address="rhg1qqqq"),
        lambda doc: doc["coldkey"].update(pubkey="ab" * 31),
        lambda doc: doc["coldkey"].update(pubkey="zz" * 32),
        lambda doc: doc["coldkey"]["keystore"].update(n=3),
        lambda doc: doc.update(hotkeys=[]),
        lambda doc: doc.update(hotkeys={"../x": doc["coldkey"]}),
    ],
)
def test_malformed_document_is_corrupt(tmp_path, change):
    create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    _edit(tmp_path, "alice", change)
    assert _open_reason(tmp_path) in ("corrupt-wallet", "bad-hotkey-name")


@pytest.mark.parametrize("content", [b"", b"not json", b"\xff\xfe", b"[]", b"{" + b" " * (1024 * 1024) + b"}"])
def test_unreadable_file_is_corrupt(tmp_path, content):
    create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    files.get_wallet_path(tmp_path, "alice").write_bytes(content)
    assert _open_reason(tmp_path) == "corrupt-wallet"


# ---------------------------------------------------------------- small pieces
def test_network_check(tmp_path):
    wallet = create_wallet(tmp_path, "alice", "regtest", PW, TEST_KDF)
    check_network(wallet, None)
    check_network(wallet, "regtest")
    with pytest.raises(WalletError) as info:
        check_network(wallet, "devnet")
    assert _reason(info) == "network-mismatch"


def test_kdf_params_from_environment():
    assert get_kdf_params({}) == PRODUCTION_KDF
    assert get_kdf_params({"HASHGRAD_WALLET_SCRYPT_N": "1024"}).n == 1024
    for bad in ("abc", "1000", "512", "-1024", "2**10", "\u0661\u0660\u0662\u0664"):
        with pytest.raises(WalletError) as info:
            get_kdf_params({"HASHGRAD_WALLET_SCRYPT_N": bad})
        assert _reason(info) == "bad-kdf-params"


@pytest.mark.parametrize("text", ["", "00" * 31, "00" * 33, "zz" * 32, "0x" + "00" * 31, "\u0661" * 64])
def test_parse_secret_hex_rejects(text):
    with pytest.raises(WalletError) as info:
        parse_secret_hex(text)
    assert _reason(info) == "bad-secret-key"
    assert text not in str(info.value) or not text


def test_parse_secret_hex_allows_surrounding_whitespace():
    assert parse_secret_hex("  " + "ab" * 32 + "\n") == b"\xab" * 32


def test_out_of_range_secret_is_refused(tmp_path):
    with pytest.raises(HashgradError) as info:
        create_wallet(tmp_path, "zero", "regtest", PW, TEST_KDF, secret=b"\x00" * 32)
    assert _reason(info) == "bad-secret-key"
    assert not files.get_wallet_path(tmp_path, "zero").exists()
    assert files.list_wallet_names(tmp_path) == []
