"""Unit tests of what the explorer accepts from a browser (`hashgrad.web.inputs`), how it reads the
devnet's live file (`hashgrad.web.live`) and which HTTP status each error gets."""

from __future__ import annotations

import json

import pytest

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import get_network
from hashgrad.errors import HashgradError, RpcError
from hashgrad.web import inputs
from hashgrad.web.live import EMPTY_LIVE, MAX_LIVE_FILE_SIZE, check_live_document, read_live_file
from hashgrad.web.server import compute_error_status

REGTEST = get_network("regtest")
HASH = "ab" * 32


def reason_of(fn, *args) -> str:
    with pytest.raises(HashgradError) as info:
        fn(*args)
    return info.value.reason


def test_parse_block_ref_hash_or_height():
    assert inputs.parse_block_ref(HASH.upper()) == HASH
    assert inputs.parse_block_ref("0") == 0
    assert inputs.parse_block_ref("2147483647") == 2**31 - 1


@pytest.mark.parametrize(
    "text, reason",
    [
        ("zz", "bad-block-ref"),
        ("-1", "bad-block-ref"),
        ("+1", "bad-block-ref"),
        (" 1", "bad-block-ref"),
        ("1e3", "bad-block-ref"),
        ("", "bad-block-ref"),
        ("a" * 63, "bad-block-ref"),
        ("g" * 64, "bad-hash"),
        ("99999999999", "bad-block-ref"),
        ("2147483648", "bad-height"),
        ("٣", "bad-block-ref"),
    ],
)
def test_invalid_block_ref(text, reason):
    assert reason_of(inputs.parse_block_ref, text) == reason


@pytest.mark.parametrize("text", ["1", "50", None])
def test_parse_count(text):
    assert inputs.parse_count(text, 20) == (20 if text is None else int(text))


@pytest.mark.parametrize("text", ["0", "51", "-3", "abc", "1.5", ""])
def test_invalid_count(text):
    assert reason_of(inputs.parse_count, text, 20) == "bad-count"


def test_parse_address_of_this_network_only():
    key = SigningKey.generate()
    address = encode_address(REGTEST.hrp, key.pubkey)
    assert inputs.parse_address(address, REGTEST) == address
    assert inputs.parse_address(address.upper(), REGTEST) == address
    assert reason_of(inputs.parse_address, encode_address("hg", key.pubkey), REGTEST) == "bad-address"
    typo = address[:-1] + ("q" if address[-1] != "q" else "p")  # the checksum no longer matches
    assert reason_of(inputs.parse_address, typo, REGTEST) == "bad-address"
    assert reason_of(inputs.parse_address, "rhg1" + "q" * 200, REGTEST) == "bad-address"


def test_parse_address_refuses_a_key_off_the_curve():
    off_curve = bytes(32)  # x = 0 is not on secp256k1
    assert reason_of(inputs.parse_address, encode_address(REGTEST.hrp, off_curve), REGTEST) == "bad-address"


def test_parse_job_and_epoch():
    assert inputs.parse_job("1", REGTEST) == 1
    assert reason_of(inputs.parse_job, "2", REGTEST) == "bad-job"
    assert reason_of(inputs.parse_job, "x", REGTEST) == "bad-job"
    assert inputs.parse_epoch("4294967295") == 2**32 - 1
    assert reason_of(inputs.parse_epoch, "4294967296") == "bad-epoch"


def test_classify_query():
    key = SigningKey.generate()
    address = encode_address(REGTEST.hrp, key.pubkey)
    assert inputs.classify_query(" 12 ", REGTEST) == ("height", 12)
    assert inputs.classify_query(HASH.upper(), REGTEST) == ("hash", HASH)
    assert inputs.classify_query(address, REGTEST) == ("address", address)
    for text in ("", "   ", "hello", "x" * 101, "rhg1notanaddress"):
        assert reason_of(inputs.classify_query, text, REGTEST) in ("bad-query", "bad-address")


def make_live_row(uid: int, **changes) -> dict:
    row = {
        "uid": uid,
        "hotkey": "cd" * 32,
        "address": "rhg1abc",
        "role": "miner",
        "adversary": None,
        "incentive": 0.5,
        "dividends": 0.0,
        "emission": 1000,
        "total_earned": 3000,
    }
    row.update(changes)
    return row


def make_live(**epoch_changes) -> dict:
    epoch = {
        "epoch": 3,
        "height": 120,
        "checkpoint": "ef" * 32,
        "heldout_loss": 2.5,
        "uids": [make_live_row(0, role="validator"), make_live_row(1, adversary="lazy")],
    }
    epoch.update(epoch_changes)
    return {"epochs": [epoch], "initial_heldout_loss": 3.1}


def test_read_live_file(tmp_path):
    path = tmp_path / "live.json"
    document = make_live()
    document["epochs"][0]["uids"][0]["extra"] = "<script>"  # unknown fields are not passed on
    path.write_text(json.dumps(document))
    live = read_live_file(path)
    assert live["initial_heldout_loss"] == 3.1
    assert live["epochs"][0]["uids"][1]["adversary"] == "lazy"
    assert "extra" not in live["epochs"][0]["uids"][0]


def test_read_live_file_rounds_inside_epochs(tmp_path):
    path = tmp_path / "live.json"
    rounds = [
        {"round": r, "checkpoint": f"{r:064x}", "heldout_loss": 3.0 - r / 10, "artifacts": 3, "x": 1} for r in (0, 1)
    ]
    path.write_text(json.dumps(make_live(rounds=rounds)))
    checked = read_live_file(path)["epochs"][0]["rounds"]
    assert [r["heldout_loss"] for r in checked] == [3.0, 2.9] and "x" not in checked[0]
    assert (
        "rounds" not in read_live_file(path.with_name("absent.json"))
        and "rounds" not in check_live_document(make_live())["epochs"][0]
    )


def test_read_live_file_missing_is_empty(tmp_path):
    assert read_live_file(tmp_path / "absent.json") == EMPTY_LIVE
    assert read_live_file(None) == EMPTY_LIVE


def test_read_live_file_too_large_or_not_json(tmp_path):
    path = tmp_path / "live.json"
    path.write_bytes(b" " * (MAX_LIVE_FILE_SIZE + 1))
    assert reason_of(read_live_file, path) == "bad-live-file"
    path.write_bytes(b"{not json")
    assert reason_of(read_live_file, path) == "bad-live-file"


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"epochs": {}},
        make_live(epoch=-1),
        make_live(epoch=True),
        make_live(checkpoint="xyz"),
        make_live(heldout_loss=float("nan")),
        make_live(heldout_loss="2.5"),
        make_live(uids=[make_live_row(0, role="boss")]),
        make_live(uids=[make_live_row(0, adversary="<b>x</b>")]),
        make_live(uids=[make_live_row(0, emission=-5)]),
        make_live(uids=[make_live_row(0, address="rhg1 <img>")]),
        make_live(uids=["row"]),
        {"epochs": [], "initial_heldout_loss": "high"},
        make_live(rounds={}),
        make_live(rounds=[{"round": 0, "checkpoint": "ab" * 32, "heldout_loss": None, "artifacts": 3}]),
        make_live(rounds=[{"round": -1, "checkpoint": "ab" * 32, "heldout_loss": 2.0, "artifacts": 3}]),
    ],
)
def test_invalid_live_document(document):
    assert reason_of(check_live_document, document) == "bad-live-file"


@pytest.mark.parametrize(
    "exc, status",
    [
        (HashgradError("bad-hash"), 400),
        (RpcError("not-found"), 404),
        (RpcError("out-of-range"), 404),
        (RpcError("node-unreachable"), 503),
        (RpcError("unauthorized"), 503),
        (RpcError("invalid-parameter"), 400),
        (RpcError("bad-response"), 502),
        (HashgradError("bad-live-file"), 500),
        (HashgradError("network-mismatch"), 502),
    ],
)
def test_compute_error_status(exc, status):
    assert compute_error_status(exc) == status


def test_describe_tx_names_coordination_kinds():
    from hashgrad.web.queries import describe_tx

    key = SigningKey.generate()
    tx = describe_tx(REGTEST, {"kind": "kind-3", "hotkey": key.pubkey.hex(), "amount": 5})
    assert tx["kind"] == "add_stake"
    assert tx["hotkey_address"] == encode_address(REGTEST.hrp, key.pubkey)
    assert describe_tx(REGTEST, {"kind": "kind-77"})["kind"] == "kind-77"
    assert describe_tx(REGTEST, {"kind": "transfer"})["kind"] == "transfer"
