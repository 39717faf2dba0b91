"""`hashgrad auxpow check FILE`: real samples accepted, mutated ones rejected with their reason,
and a malformed file refused with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from hashgrad.chain.auxpow import parse_auxpow
from hashgrad.chain.header import BlockHeader
from hashgrad.chain.params import HASHGRAD_CHAIN_ID
from hashgrad.cli.auxpow_cmd import MAX_CHECK_FILE
from hashgrad.cli.main import main
from support.auxpow import build_pool_auxpow, header_samples, load_samples, make_child_header, sample_parts


def sample_item(name: str) -> dict:
    entry = load_samples()[name]
    header, raw = sample_parts(name)
    return {
        "header": header.hex(),
        "auxpow": raw.hex() if raw else None,
        "chain_id": entry["chain_id"],
        "parent_pow": entry["parent_pow_algo"],
    }


def run_check(tmp_path, items, capsys) -> tuple[int, list[dict], str]:
    path = tmp_path / "items.json"
    path.write_text(json.dumps(items))
    code = main(["auxpow", "check", str(path)])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_auxpow_check_all_real_samples(tmp_path, capsys):
    names = header_samples()
    code, lines, _ = run_check(tmp_path, [sample_item(n) for n in names], capsys)
    assert code == 0
    for name, line in zip(names, lines, strict=True):
        entry = load_samples()[name]
        expected_parent = entry["auxpow"]["parent_hash"] if "auxpow" in entry else None
        assert line == {"hash": entry["block_hash"], "parent_hash": expected_parent, "valid": True, "reason": None}


def mutate_auxpow(item: dict, **changes) -> dict:
    auxpow = parse_auxpow(bytes.fromhex(item["auxpow"]))
    return dict(item, auxpow=replace(auxpow, **changes).serialize().hex())


def mutated_items() -> list[tuple[dict, str]]:
    nmc = sample_item("namecoin_19200")
    nmc37174 = sample_item("namecoin_37174_explicit_mm_header")
    sys_item = sample_item("syscoin_430000_bitcoin_parent")
    plain = sample_item("namecoin_19204_no_auxpow")
    parent = parse_auxpow(bytes.fromhex(sys_item["auxpow"])).parent_header
    branch = parse_auxpow(bytes.fromhex(nmc37174["auxpow"])).chain_branch
    return [
        (mutate_auxpow(sys_item, parent_header=parent.with_nonce(parent.nonce ^ 1)), "high-hash"),
        (mutate_auxpow(nmc37174, chain_branch=(b"\x00" * 32,) + branch[1:]), "auxpow-missing-root"),
        (mutate_auxpow(nmc, chain_index=1), "auxpow-wrong-index"),
        (mutate_auxpow(nmc, coinbase_index=1), "auxpow-coinbase-index"),
        (
            mutate_auxpow(sys_item, parent_header=replace(parent, version=parent.version | 0x100)),
            "auxpow-parent-has-auxpow",
        ),
        (
            mutate_auxpow(
                sample_item("namecoin_19414_implicit_mm_header"),
                parent_header=BlockHeader.deserialize(bytes.fromhex(plain["header"])),
            ),
            "auxpow-parent-chain-id",
        ),
        (dict(nmc, auxpow=nmc["auxpow"][:-2]), "bad-encoding"),
        (dict(nmc, auxpow=nmc["auxpow"] + "00"), "bad-encoding"),
        (dict(nmc, auxpow=nmc["auxpow"][:-1]), "bad-hex"),
        (dict(nmc, auxpow=nmc["auxpow"][:2] + " " + nmc["auxpow"][2:-1]), "bad-hex"),
        (dict(nmc, header=nmc["header"][:-2]), "bad-header-length"),
        (dict(nmc, chain_id=HASHGRAD_CHAIN_ID), "bad-chain-id"),
        (dict(nmc, auxpow=None), "auxpow-missing"),
        (dict(plain, auxpow=nmc["auxpow"]), "auxpow-unexpected"),
        (dict(sample_item("dogecoin_894863"), parent_pow="sha256d"), "high-hash"),
    ]


def test_auxpow_check_mutations_rejected(tmp_path, capsys):
    cases = mutated_items()
    code, lines, _ = run_check(tmp_path, [item for item, _ in cases], capsys)
    assert code == 1
    assert [line["reason"] for line in lines] == [reason for _, reason in cases]
    assert not any(line["valid"] for line in lines)
    assert lines[0]["hash"] == load_samples()["syscoin_430000_bitcoin_parent"]["block_hash"]


def test_auxpow_check_one_bad_item_fails_the_file(tmp_path, capsys):
    code, lines, _ = run_check(tmp_path, [sample_item("namecoin_19200"), mutated_items()[0][0]], capsys)
    assert code == 1 and [line["valid"] for line in lines] == [True, False]


def test_auxpow_check_our_own_merge_mined_block(tmp_path, capsys):
    child = make_child_header()
    item = {
        "header": child.serialize().hex(),
        "auxpow": build_pool_auxpow(child).serialize().hex(),
        "chain_id": HASHGRAD_CHAIN_ID,
    }
    code, lines, _ = run_check(tmp_path, [item], capsys)
    assert code == 0 and lines[0]["hash"] == child.hash_hex


@pytest.mark.parametrize(
    "content, reason",
    [
        ("not json", "bad-json"),
        ('[{"header": "00", "chain_id": 1' + "0" * 5000 + "}]", "bad-json"),
        ("[" * 100_000 + "]" * 100_000, "bad-json"),
        ("{}", "bad-item"),
        ("[]", "bad-item"),
        ('[["00"]]', "bad-item"),
        ('[{"header": "00", "chain_id": 1, "extra": 1}]', "bad-item"),
        ('[{"header": "00"}]', "bad-item"),
        ('[{"header": "00", "chain_id": true}]', "bad-item"),
        ('[{"header": "00", "chain_id": 65536}]', "bad-item"),
        ('[{"header": 5, "chain_id": 1}]', "bad-item"),
        ('[{"header": "00", "chain_id": 1, "auxpow": 7}]', "bad-item"),
        ('[{"header": "00", "chain_id": 1, "parent_pow": "x11"}]', "bad-item"),
    ],
)
def test_auxpow_check_bad_file(tmp_path, capsys, content, reason):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["auxpow", "check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"error: {reason}")


def test_auxpow_check_file_limits(tmp_path, capsys):
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(MAX_CHECK_FILE + 1)
    assert main(["auxpow", "check", str(big)]) == 2
    assert capsys.readouterr().err.startswith("error: file-too-large")
    assert main(["auxpow", "check", str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err.startswith("error: file-unreadable")


def test_auxpow_check_entry_point(tmp_path):
    path = tmp_path / "items.json"
    path.write_text(json.dumps([sample_item("dogecoin_748634")]))
    done = subprocess.run(
        [sys.executable, "-m", "hashgrad", "auxpow", "check", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"] is True
