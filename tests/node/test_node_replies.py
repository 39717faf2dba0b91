"""The node client's reply checks (`hashgrad.node.replies`), and the one hex helper they use.

Every typed reply is built from a well-formed node reply (the shapes `rpc_incentive`/`rpc_chain`
produce), then broken one field at a time: each break must be refused as `bad-response`.
"""

from __future__ import annotations

import argparse

import pytest

from hashgrad.chain.encoding import parse_hex
from hashgrad.cli.node_options import DEFAULT_NETWORK, add_node_arguments, connect_from_args
from hashgrad.errors import DecodeError, HashgradError, RpcError, WalletError
from hashgrad.node.client import connect_node
from hashgrad.node.replies import parse_account, parse_chain_info, parse_epoch, parse_job, parse_metagraph
from support.replies import ADDRESS, SAMPLE_JOB, SAMPLE_NEURON

ROW = SAMPLE_NEURON
JOB = SAMPLE_JOB
ACCOUNT = {
    "address": ADDRESS,
    "pubkey": "11" * 32,
    "balance": 10,
    "nonce": 1,
    "pending_nonce": 2,
    "pending_balance": 5,
    "pending_txs": 1,
    "height": 35,
    "stake": 7,
    "registrations": [{"job": 0, "uid": 3}, {"job": 1, "uid": 0}],
}
EPOCH = {
    "job": 0,
    "epoch": 1,
    "start_height": 31,
    "end_height": 60,
    "seed": "5e" * 32,
    "checkpoint": None,
    "height": 35,
    "work_commits": [{"uid": 1, "commitment": "c0" * 32, "height": 32}],
    "work_reveals": [{"uid": 1, "artifact_id": "a1" * 32, "base_checkpoint": "b0" * 32}],
    "weight_commits": [{"uid": 0}],
    "weight_reveals": [{"uid": 0, "weights": [[1, 65535]]}],
    "attestations": [{"uid": 0, "checkpoint": "b0" * 32}],
}


def test_well_formed_replies_become_typed_values():
    job = parse_job(JOB, 0)
    assert (job.burn, job.work_reveal_end, job.last_epoch_processed) == (10_000_000, 18, -1)
    assert job.checkpoint.hash == bytes([0xEE]) * 32 and job.definition_hash == bytes([0xC2]) * 32
    assert job.json is JOB
    account = parse_account(ACCOUNT, ADDRESS)
    assert account.get_uid(0) == 3 and account.get_uid(2) is None and account.stake == 7
    neuron = parse_metagraph({"job": 1, "height": 35, "uids": [ROW]}, 1).uids[0]
    assert neuron.hotkey == bytes([0xAB]) * 32 and neuron.incentive == 0.5 and neuron.endpoint == "127.0.0.1:8000"
    epoch = parse_epoch(EPOCH, 0, 1)
    assert epoch.checkpoint is None and epoch.seed == bytes([0x5E]) * 32
    assert epoch.work_reveals[0].artifact_id == bytes([0xA1]) * 32 and epoch.weight_reveals[0].weights == ((1, 65535),)
    assert epoch.attestations == {0: bytes([0xB0]) * 32} and epoch.weight_commits == (0,)
    info = parse_chain_info({"chain": "regtest", "blocks": 3, "bestblockhash": "00" * 32})
    assert info.chain == "regtest" and info.best_hash == bytes(32)


def _broken(base: dict, **changes) -> dict:
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not ...}


@pytest.mark.parametrize(
    "reply",
    [
        None,
        [],
        _broken(JOB, job=1),
        _broken(JOB, burn=-1),
        _broken(JOB, burn="1"),
        _broken(JOB, burn=True),
        _broken(JOB, windows=None),
        _broken(JOB, definition_hash="c2" * 31),
        _broken(JOB, definition_hash="zz" * 32),
        _broken(JOB, checkpoint={"epoch": 0, "hash": "ff" * 32}),
        _broken(JOB, next_block_epoch=-1),
        _broken(JOB, name=...),
        _broken(JOB, last_epoch_processed=-2),
    ],
)
def test_malformed_job_replies_are_refused(reply):
    with pytest.raises(RpcError) as excinfo:
        parse_job(reply, 0)
    assert excinfo.value.reason == "bad-response"


@pytest.mark.parametrize(
    "row",
    [
        _broken(ROW, stake="1"),
        _broken(ROW, validator_permit=1),
        _broken(ROW, incentive=None),
        _broken(ROW, trust=1.5),
        _broken(ROW, incentive=float("nan")),
        _broken(ROW, coldkey=...),
        _broken(ROW, hotkey="ab" * 33),
        _broken(ROW, uid=1),
        _broken(ROW, endpoint=7),
    ],
)
def test_malformed_metagraph_rows_are_refused(row):
    with pytest.raises(RpcError) as excinfo:
        parse_metagraph({"job": 0, "height": 1, "uids": [row]}, 0)
    assert excinfo.value.reason == "bad-response"


@pytest.mark.parametrize(
    "reply",
    [
        _broken(ACCOUNT, address="rhg1other"),
        _broken(ACCOUNT, stake=...),
        _broken(ACCOUNT, balance=-1),
        _broken(ACCOUNT, registrations=[{"job": 0}]),
        _broken(ACCOUNT, registrations=None),
    ],
)
def test_malformed_account_replies_are_refused(reply):
    with pytest.raises(RpcError) as excinfo:
        parse_account(reply, ADDRESS)
    assert excinfo.value.reason == "bad-response"


@pytest.mark.parametrize(
    "reply",
    [
        _broken(EPOCH, epoch=2),
        _broken(EPOCH, seed="5e"),
        _broken(EPOCH, work_reveals=[{"uid": 1, "artifact_id": "a1" * 32}]),
        _broken(EPOCH, weight_reveals=[{"uid": 0, "weights": [[1, 65536]]}]),
        _broken(EPOCH, attestations={}),
        _broken(EPOCH, work_commits=[{"uid": 70000, "commitment": "c0" * 32, "height": 1}]),
    ],
)
def test_malformed_epoch_replies_are_refused(reply):
    with pytest.raises(RpcError) as excinfo:
        parse_epoch(reply, 0, 1)
    assert excinfo.value.reason == "bad-response"


@pytest.mark.parametrize("text", [None, 12, "abc", "zz", " ab", "ab ", "a b", "ab" * 33, "\u0661\u0662"])
def test_parse_hex_refuses_all_but_even_length_hex(text):
    with pytest.raises(DecodeError) as excinfo:
        parse_hex(text, "x", max_size=32)
    assert excinfo.value.reason == "bad-hex"


def test_parse_hex_sizes_and_error_types():
    assert parse_hex("AbCd", "x") == b"\xab\xcd" and parse_hex("", "x") == b""
    assert parse_hex("00" * 32, "x", size=32) == bytes(32)
    with pytest.raises(WalletError) as excinfo:
        parse_hex("00" * 31, "salt", size=32, reason="bad-salt-file", error=WalletError)
    assert excinfo.value.reason == "bad-salt-file"


def test_one_factory_and_one_set_of_node_options(tmp_path):
    parser = argparse.ArgumentParser()
    add_node_arguments(parser, datadir_required=False)
    args = parser.parse_args([])
    assert args.network == DEFAULT_NETWORK == "regtest" and connect_from_args(args) is None
    args = parser.parse_args(["--datadir", str(tmp_path)])  # no cookie: no node ran there
    with pytest.raises(RpcError) as excinfo:
        connect_from_args(args)
    assert excinfo.value.reason == "node-unreachable"
    (tmp_path / ".cookie").write_text("__cookie__:ab")
    client = connect_node("devnet", tmp_path, rpcport=1)  # nothing is sent until the first call
    assert client.params.name == "devnet" and client.rpc.port == 1
    with pytest.raises(HashgradError) as excinfo:
        connect_node("devnet", tmp_path, rpcport=70000)
    assert excinfo.value.reason == "bad-arguments"
    with pytest.raises(RpcError) as excinfo:
        client.get_job(0)
    assert excinfo.value.reason == "node-unreachable"
