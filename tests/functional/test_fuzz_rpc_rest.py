"""A short fuzz of a real node's JSON-RPC and REST requests (hypothesis over loopback HTTP).

Properties: every JSON-RPC call, whatever its method's parameters, gets a JSON reply whose error (if
any) is a reason code other than `internal-error` (what the server answers when a method raised
something unexpected); every REST path gets 200, 400 or 404 with a JSON body, never a 500.
"""

from __future__ import annotations

import base64
import http.client
import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functional.framework import TestNode
from hashgrad.node.rpc_client import read_cookie

# everything but the calls that stop, disconnect or reconfigure the node under test
METHODS = [
    "getartifact",
    "hasartifact",
    "putartifact",
    "createauxblock",
    "submitauxblock",
    "getblockcount",
    "getbestblockhash",
    "getblockhash",
    "getblockchaininfo",
    "getblock",
    "getblockheader",
    "getrawmempool",
    "getmempoolinfo",
    "getrawtransaction",
    "gettransaction",
    "getaccount",
    "getsupply",
    "getaddresshistory",
    "getjob",
    "getmetagraph",
    "getepoch",
    "sendrawtransaction",
    "submitblock",
    "getblocktemplate",
    "getpeerinfo",
    "getconnectioncount",
    "getnetworkinfo",
    "getaddednodeinfo",
    "listbanned",
    "uptime",
]
SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=80)
    | st.sampled_from(["00" * 32, "ff" * 80, "rhg1qqqq", "-1", "1e400"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = TestNode(0, tmp_path_factory.mktemp("fuzz_rpc"))
    node.start("--rest")
    try:
        node.generate(3)
        yield node
    finally:
        node.cleanup()


def request(node, method: str, path: str, body: bytes | None = None, auth: bool = True) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", node.rpc_port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if auth:
        user, password = read_cookie(node.datadir)
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@SETTINGS
@given(method=st.sampled_from(METHODS), params=st.lists(JSON, max_size=4))
def test_rpc_calls_never_fail_internally(node, method, params):
    status, raw = request(node, "POST", "/", json.dumps({"method": method, "params": params, "id": 1}).encode())
    reply = json.loads(raw)
    error = reply.get("error")
    assert error is None or (isinstance(error, dict) and isinstance(error.get("code"), int)), reply
    assert error is None or "internal-error" not in error.get("message", ""), (method, params, reply)


REST_ROUTES = [
    "/rest/block/{}.json",
    "/rest/block/{}.hex",
    "/rest/blockhashbyheight/{}.json",
    "/rest/tx/{}.json",
    "/rest/account/{}.json",
]


@SETTINGS
@given(route=st.sampled_from(REST_ROUTES), part=st.text(min_size=1, max_size=80))
def test_rest_paths_are_never_a_server_error(node, route, part):
    status, raw = request(node, "GET", route.format(quote(part, safe="")), auth=False)
    assert status in (200, 400, 404), (route, part, status, raw[:200])
