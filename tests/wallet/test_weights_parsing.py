"""Unit tests of `hashgrad.wallet.weights`: weights text → sorted u16 pairs (exact max-upscaling),
and salt files (mode 0600, never overwritten, validated on read)."""

from __future__ import annotations

import json
import stat
from decimal import Decimal

import pytest

from hashgrad.errors import WalletError
from hashgrad.incentive.convert import compute_u16_row_from_floats
from hashgrad.wallet.weights import (
    MAX_SALT_FILE_BYTES,
    SaltRecord,
    check_salt_record,
    format_weights,
    get_default_salt_path,
    parse_weights,
    read_salt_file,
    write_salt_file,
)

HOTKEY = bytes(range(32))
SALT = b"\x5a" * 32


def _reason(excinfo) -> str:
    return excinfo.value.reason


# ---------------------------------------------------------------- parse_weights
def test_parse_weights_takes_integers_as_u16_and_sorts_by_uid():
    assert parse_weights("3:100,1:65535, 2 : 7") == ((1, 65535), (2, 7), (3, 100))


def test_parse_weights_scales_decimals_so_the_largest_is_65535():
    assert parse_weights("0:0.5,1:1.0") == ((0, 32768), (1, 65535))  # 32767.5 rounds half up
    assert parse_weights("4:0.25,2:0.75") == ((2, 65535), (4, 21845))
    assert parse_weights("0:2e-3,1:1e-3") == ((0, 65535), (1, 32768))


def test_parse_weights_mixes_integers_into_decimal_scaling_when_one_weight_is_decimal():
    assert parse_weights("0:1,1:2.0") == ((0, 32768), (1, 65535))


def test_parse_weights_is_exact_where_floats_are_not():
    # 0.1 + 0.2 style inputs: Decimal arithmetic gives 0.3/0.6 = exactly one half
    assert parse_weights("0:0.3,1:0.6") == ((0, 32768), (1, 65535))
    assert compute_u16_row_from_floats([Decimal("1"), Decimal("0.1")]) == (65535, 6554)  # 6553.5 → 6554


def test_parse_weights_drops_zeros():
    assert parse_weights("0:0,1:5,2:0.0") == ((1, 65535),)
    assert parse_weights("0:0,1:5") == ((1, 5),)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "1",
        "1:",
        ":5",
        "a:1",
        "1:a",
        "1:-1",
        "-1:1",
        "1:nan",
        "1:inf",
        "1:1,1:2",
        "65536:1",
        "1:65536",
        "0:0,1:0",
        "0:0.0",
        "1:1;2:2",
        "1:1,,2:2",
        "1:0x10",
        "１:1",
        "1:1_000",
    ],
)
def test_parse_weights_rejects_malformed_text(text):
    with pytest.raises(WalletError) as excinfo:
        parse_weights(text)
    assert _reason(excinfo) == "bad-weights"


def test_parse_weights_limits_size():
    many = ",".join(f"{uid}:1" for uid in range(4097))
    with pytest.raises(WalletError) as excinfo:
        parse_weights(many)
    assert _reason(excinfo) == "bad-weights"
    assert len(parse_weights(",".join(f"{uid}:1" for uid in range(4096)))) == 4096
    with pytest.raises(WalletError):
        parse_weights("1:" + "1" * 200_000)


def test_format_weights_round_trips():
    weights = parse_weights("2:0.5,0:1.0")
    assert parse_weights(format_weights(weights)) == weights


# ---------------------------------------------------------------- salt files
def _record(**changes) -> SaltRecord:
    fields = dict(network="regtest", job_id=0, epoch=7, hotkey=HOTKEY, salt=SALT, weights=((1, 65535), (3, 9)))
    fields.update(changes)
    return SaltRecord(**fields)


def test_salt_file_round_trips_with_private_modes(tmp_path):
    path = get_default_salt_path(tmp_path / "home", 0, 7, HOTKEY)
    assert path == tmp_path / "home" / "salts" / f"0-7-{HOTKEY.hex()}.json"
    write_salt_file(path, _record())
    assert read_salt_file(path) == _record()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    doc = json.loads(path.read_text())
    assert doc["salt"] == SALT.hex() and doc["weights"] == [[1, 65535], [3, 9]]


def test_salt_file_is_never_overwritten(tmp_path):
    path = tmp_path / "salt.json"
    write_salt_file(path, _record())
    with pytest.raises(WalletError) as excinfo:
        write_salt_file(path, _record(salt=b"\x01" * 32))
    assert _reason(excinfo) == "salt-file-exists"
    assert read_salt_file(path).salt == SALT
    assert [p.name for p in tmp_path.iterdir()] == ["salt.json"]  # no temporary file left behind


def test_missing_salt_file(tmp_path):
    with pytest.raises(WalletError) as excinfo:
        read_salt_file(tmp_path / "absent.json")
    assert _reason(excinfo) == "no-salt-file"


@pytest.mark.parametrize(
    "change",
    [
        {"type": "other"},
        {"version": 2},
        {"job": -1},
        {"job": 70000},
        {"epoch": "7"},
        {"network": 1},
        {"salt": "00" * 31},
        {"salt": "zz" * 32},
        {"salt": " " + "00" * 31 + " "},
        {"hotkey": "00"},
        {"weights": []},
        {"weights": [[3, 1], [1, 1]]},
        {"weights": [[1, 1], [1, 2]]},
        {"weights": [[1, 70000]]},
        {"weights": [[1]]},
        {"weights": [[1, True]]},
        {"weights": "1:1"},
    ],
)
def test_malformed_salt_files_are_refused(tmp_path, change):
    doc = {**_record().to_json(), **change}
    path = tmp_path / "salt.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(WalletError) as excinfo:
        read_salt_file(path)
    assert _reason(excinfo) == "bad-salt-file"


def test_salt_file_size_and_encoding_limits(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_SALT_FILE_BYTES + 1))
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe")
    for path in (big, bad):
        with pytest.raises(WalletError) as excinfo:
            read_salt_file(path)
        assert _reason(excinfo) == "bad-salt-file"


def test_check_salt_record_names_the_mismatch():
    record = _record()
    assert check_salt_record(record, "regtest", 0, 7, HOTKEY) is record
    for args in (
        ("devnet", 0, 7, HOTKEY),
        ("regtest", 1, 7, HOTKEY),
        ("regtest", 0, 8, HOTKEY),
        ("regtest", 0, 7, b"\x00" * 32),
    ):
        with pytest.raises(WalletError) as excinfo:
            check_salt_record(record, *args)
        assert _reason(excinfo) == "salt-file-mismatch"
