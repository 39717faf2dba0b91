"""The JSON-RPC layer's pure parts: Core's request parsing and reply shapes, rpcauth, difficulty, ZMQ frames."""

from __future__ import annotations

import base64

import pytest

from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.rpc import build_reply, legacy_http_status, parse_call
from hashgrad.node.rpc_auth import RpcCredentials, compute_rpcauth, parse_rpcauth
from hashgrad.node.rpc_chain import rpc_getaddresshistory, rpc_getblock
from hashgrad.node.rpc_named import compute_positional
from hashgrad.node.rpc_views import compute_difficulty
from hashgrad.node.zmq_pub import check_zmq_address, encode_sequence

# From Bitcoin Core's test/functional/rpc_users.py: a line rpcauth.py printed and its password.
CORE_RPCAUTH = "rt:93648e835a54c573682c2eb19f882535$7681e9c5b74bdd85e78166031d2058e1069b3ed7ed967c93fc63abba06f31144"
CORE_RPCAUTH_PASSWORD = "cA773lm788buwYe4g4WT+05pKyNruVKjQ25x3n0DQcM="


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_parse_call_versions_and_ids():
    legacy = parse_call({"method": "getblockcount", "id": 7})
    assert (legacy.is_v2, legacy.has_id, legacy.id, legacy.error) == (False, True, 7, None)
    assert parse_call({"jsonrpc": "1.0", "method": "x", "id": 1}).is_v2 is False
    notification = parse_call({"jsonrpc": "2.0", "method": "x"})
    assert notification.is_v2 and notification.is_notification
    assert not parse_call({"method": "x"}).is_notification  # legacy calls without id are answered
    for bad, message in (
        ({"jsonrpc": 2, "method": "x", "id": 1}, "jsonrpc field must be a string"),
        ({"jsonrpc": "3.0", "method": "x", "id": 1}, "JSON-RPC version not supported"),
        ({"id": 1}, "Missing method"),
        ({"method": 5, "id": 1}, "Method must be a string"),
        ({"method": "x", "params": 3, "id": 1}, "Params must be an array or object"),
    ):
        call = parse_call(bad)
        assert call.error.code == -32600 and call.error.detail == message and call.id == 1
    named = parse_call({"method": "x", "params": {"a": 1}})
    assert named.error is None and named.named == {"a": 1}
    assert parse_call(5).error.code == -32600


def test_build_reply_as_core():
    assert build_reply(3, None, 1, False) == {"result": 3, "error": None, "id": 1}
    assert build_reply(3, None, 1, True) == {"jsonrpc": "2.0", "result": 3, "id": 1}
    error = RpcError("method-not-found", "Method not found", -32601)
    assert build_reply(None, error, 2, True) == {
        "jsonrpc": "2.0",
        "error": {"code": -32601, "message": "method-not-found: Method not found", "reason": "method-not-found"},
        "id": 2,
    }
    assert build_reply(None, error, 2, False)["result"] is None
    assert build_reply(3, None, None, False, has_id=False) == {"result": 3, "error": None}
    assert [legacy_http_status(c) for c in (-32600, -32601, -8, -1)] == [400, 404, 500, 500]


def test_rpcauth_matches_core_rpcauth_py():
    entry = parse_rpcauth(CORE_RPCAUTH)
    credentials = RpcCredentials(rpcauth=[entry])
    assert credentials.is_authorized(basic("rt", CORE_RPCAUTH_PASSWORD))
    assert not credentials.is_authorized(basic("rt", CORE_RPCAUTH_PASSWORD + "x"))
    assert not credentials.is_authorized(basic("rt2", CORE_RPCAUTH_PASSWORD))
    line, password = compute_rpcauth("alice")
    assert RpcCredentials(rpcauth=[parse_rpcauth(line)]).is_authorized(basic("alice", password))
    for bad in ("rt", "rt:salt$short", "rt:zz$" + "0" * 64, ":ab$" + "0" * 64):
        with pytest.raises(HashgradError) as error:
            parse_rpcauth(bad)
        assert error.value.reason == "bad-rpcauth"


def test_credentials_cookie_and_user_password():
    credentials = RpcCredentials(cookie="__cookie__:abc", user="u", password="p:q")
    assert credentials.is_authorized(basic("__cookie__", "abc"))
    assert credentials.is_authorized(basic("u", "p:q"))  # passwords may hold colons
    no_colon = "Basic " + base64.b64encode(b"nocolon").decode()
    for header in (None, "", basic("u", "p"), "Bearer x", "Basic !!!", no_colon):
        assert not credentials.is_authorized(header)
    assert not RpcCredentials().is_authorized(basic("", ""))


def test_compute_difficulty_as_core_getdifficulty():
    assert compute_difficulty(0x1D00FFFF) == 1.0
    assert compute_difficulty(0x207FFFFF) == pytest.approx(4.656542373906925e-10)  # Core's regtest
    assert compute_difficulty(0x1B0404CB) == pytest.approx(16307.420938523983)  # Bitcoin block 100,000
    assert compute_difficulty(0x1D000000) == 0.0


def test_zmq_pieces():
    assert encode_sequence(0) == b"\x00\x00\x00\x00" and encode_sequence(258) == b"\x02\x01\x00\x00"
    assert encode_sequence(1 << 32) == b"\x00\x00\x00\x00"  # wraps as Core's uint32_t
    assert check_zmq_address("tcp://127.0.0.1:28332")
    with pytest.raises(HashgradError) as error:
        check_zmq_address("http://127.0.0.1:1")
    assert error.value.reason == "bad-zmq-address"


def test_rpcauth_command_prints_a_line_the_node_accepts(capsys):
    from hashgrad.cli.main import main

    assert main(["rpcauth", "bob", "hunter2"]) == 0
    printed = capsys.readouterr().out.splitlines()
    line = next(text for text in printed if text.startswith("rpcauth="))[len("rpcauth=") :]
    assert RpcCredentials(rpcauth=[parse_rpcauth(line)]).is_authorized(basic("bob", "hunter2"))


def test_named_parameters_as_core():
    assert compute_positional("getblock", rpc_getblock, {"verbosity": 2, "blockhash": "ab"}) == ["ab", 2]
    assert compute_positional("getblock", rpc_getblock, {"verbosity": 0}) == [None, 0]
    assert compute_positional("getaddresshistory", rpc_getaddresshistory, {"limit": 5}) == [None, 5]  # help line
    with pytest.raises(RpcError) as error:
        compute_positional("getblock", rpc_getblock, {"hash": "ab"})
    assert (error.value.code, error.value.detail) == (-8, "Unknown named parameter hash")
