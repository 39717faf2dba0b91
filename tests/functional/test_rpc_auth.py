"""RPC server: cookie authentication as bitcoind, request limits, JSON-RPC errors, `hashgrad rpc`, REST.

One node serves every check here (starting processes is the expensive part): without the cookie
or with a wrong one the server answers 401; the cookie file is mode 0600 and disappears on a clean
stop; a body over the limit (MAX_BODY_SIZE) is 413; errors carry Bitcoin Core's codes and the
reason; the bitcoin-cli-like `hashgrad rpc` exits 0 / 1 (RPC error) / 2 (node unreachable).
"""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

from functional.framework import REPO_ROOT, new_address, wait_until
from hashgrad.errors import RpcError
from hashgrad.node.rpc import MAX_BODY_SIZE
from hashgrad.node.rpc_client import RpcClient


def post(node, body: bytes, auth: str | None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{node.rpc_port}/", data=body, method="POST")
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get(node, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.rpc_port}{path}", timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def run_cli(node, *args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "hashgrad",
        "rpc",
        "--datadir",
        str(node.datadir),
        "--rpcport",
        str(node.rpc_port),
        *args,
    ]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


@pytest.fixture
def node(node_factory):
    return node_factory(1, "--rest")[0]


def test_rpc_auth_cookie(node):
    cookie_path = node.datadir / ".cookie"
    cookie = cookie_path.read_text()
    assert cookie.startswith("__cookie__:") and len(cookie.split(":")[1]) == 64
    assert stat.S_IMODE(cookie_path.stat().st_mode) == 0o600
    body = json.dumps({"method": "getblockcount", "params": [], "id": 1}).encode()
    assert post(node, body, None)[0] == 401
    assert post(node, body, "__cookie__:" + "0" * 64)[0] == 401
    assert post(node, body, cookie.replace("__cookie__", "rpcuser"))[0] == 401
    status, reply = post(node, body, cookie)
    assert status == 200 and json.loads(reply) == {"result": 0, "error": None, "id": 1}
    with pytest.raises(RpcError) as refused:
        RpcClient(f"http://127.0.0.1:{node.rpc_port}/", "__cookie__", "wrong").call("getblockcount")
    assert refused.value.reason == "unauthorized"


def test_rpc_request_limits_and_errors(node):
    cookie = (node.datadir / ".cookie").read_text()
    status, _ = post(node, b"[" + b" " * MAX_BODY_SIZE + b"]", cookie)
    assert status == 413
    status, reply = post(node, b"{not json", cookie)
    assert status == 500 and json.loads(reply)["error"]["code"] == -32700
    deep = b'{"method": "getblockcount", "params": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, reply = post(node, deep, cookie)  # was a RecursionError and a plain-text HTTP 500
    assert status == 500 and json.loads(reply)["error"]["code"] == -32700
    status, reply = post(node, json.dumps({"method": "nosuch", "id": 7}).encode(), cookie)
    not_found = {"code": -32601, "message": "method-not-found: Method not found", "reason": "method-not-found"}
    assert status == 404 and json.loads(reply)["error"] == not_found
    status, reply = post(node, json.dumps({"jsonrpc": "2.0", "method": "nosuch", "id": 8}).encode(), cookie)
    assert status == 200 and json.loads(reply)["error"]["code"] == -32601
    status, reply = post(
        node,
        json.dumps(
            [{"method": "getblockcount", "id": 1}, 5, {"method": "getblockhash", "params": [0], "id": 2}]
        ).encode(),
        cookie,
    )
    replies = json.loads(reply)
    assert status == 200 and replies[0]["result"] == 0 and replies[1]["error"]["code"] == -32600
    assert len(replies[2]["result"]) == 64

    cases = [
        (("getblockhash", 5), "out-of-range", -8),
        (("getblockhash", "zero"), "invalid-parameter", -8),
        (("getblock", "ab" * 31), "invalid-parameter", -8),
        (("getblock", "ab" * 32), "not-found", -5),
        (("getaccount", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"), "invalid-address", -5),
        (("getaccount", new_address(node.params)[1], 1), "invalid-params", -32602),
        (("sendrawtransaction", "00ff"), "tx-decode-failed", -22),
        (("sendrawtransaction", "xyz"), "invalid-parameter", -8),
        (("generatetoaddress", -1, new_address(node.params)[1]), "invalid-parameter", -8),
        (("gettransaction", "00" * 32), "not-found", -5),
        (("addnode", "127.0.0.1:1", "sometimes"), "invalid-parameter", -8),
        (("disconnectnode", "127.0.0.1:1"), "node-not-connected", -29),
    ]
    for call, reason, code in cases:
        with pytest.raises(RpcError) as error:
            node.rpc.call(*call)
        assert (error.value.reason, error.value.code) == (reason, code), call


def test_rpc_cli_and_rest(node):
    _, address = new_address(node.params)
    done = run_cli(node, "generatetoaddress", "3", address)
    assert done.returncode == 0, done.stderr
    hashes = json.loads(done.stdout)
    assert len(hashes) == 3
    assert run_cli(node, "getbestblockhash").stdout.strip() == hashes[-1]
    account = json.loads(run_cli(node, "getaccount", address).stdout)
    assert account["balance"] > 0 and account["nonce"] == 0
    listing = run_cli(node, "help").stdout
    for method in ("getblockchaininfo", "getaccount", "getsupply", "sendrawtransaction", "submitblock", "stop"):
        assert f"\n{method}: " in "\n" + listing
    assert run_cli(node, "help", "getaccount").stdout.startswith("getaccount ADDRESS")
    assert isinstance(json.loads(run_cli(node, "uptime").stdout), int)
    failed = run_cli(node, "getblock", "00" * 32)
    assert failed.returncode == 1 and "not-found" in failed.stderr
    unreachable = subprocess.run(
        [sys.executable, "-m", "hashgrad", "rpc", "--datadir", str(node.datadir), "--rpcport", "1", "getblockcount"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert unreachable.returncode == 2 and "node-unreachable" in unreachable.stderr

    status, info = get(node, "/rest/chaininfo.json")
    assert status == 200 and info["blocks"] == 3 and info["bestblockhash"] == hashes[-1]
    status, block = get(node, f"/rest/block/{hashes[0]}.json")
    assert status == 200 and block["height"] == 1 and block["tx"][0]["kind"] == "coinbase"
    status, account_view = get(node, f"/rest/account/{address}.json")
    assert status == 200 and account_view["balance"] == account["balance"]
    assert get(node, f"/rest/block/{'00' * 32}.json")[0] == 404
    assert get(node, "/rest/account/nonsense.json")[0] == 400


def test_rpc_cli_cookie_file_and_one_default_network(node, tmp_path):
    cookie = tmp_path / "any-name.txt"
    cookie.write_text((node.datadir / ".cookie").read_text())
    command = [sys.executable, "-m", "hashgrad", "rpc", "--rpccookiefile", str(cookie), "--rpcport", str(node.rpc_port)]
    done = subprocess.run([*command, "getblockcount"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and int(done.stdout) >= 0, done.stderr
    cookie.write_text("no-colon")
    refused = subprocess.run([*command, "getblockcount"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "node-unreachable" in refused.stderr
    # every command's --network defaults to regtest: `hashgrad job` reaches this regtest node by its datadir alone
    job = subprocess.run(
        [
            sys.executable,
            "-m",
            "hashgrad",
            "job",
            "0",
            "--json",
            "--datadir",
            str(node.datadir),
            "--rpcport",
            str(node.rpc_port),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert job.returncode == 0 and json.loads(job.stdout)["job"] == 0, job.stderr
    devnet = subprocess.run(
        [
            sys.executable,
            "-m",
            "hashgrad",
            "job",
            "0",
            "--network",
            "devnet",
            "--datadir",
            str(node.datadir),
            "--rpcport",
            str(node.rpc_port),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert devnet.returncode == 1 and devnet.stderr.startswith("error: network-mismatch"), devnet.stderr


def test_rpc_stop_removes_cookie_and_restart_resumes(node):
    node.generate(5)
    tip = node.getbestblockhash()
    long_lived = RpcClient.from_datadir(node.datadir, node.rpc_port)
    assert long_lived.call("getblockcount") == 5
    assert node.stop() == 0
    assert not (node.datadir / ".cookie").exists()
    with pytest.raises(RpcError) as down:
        long_lived.call("getblockcount")
    assert down.value.reason == "node-unreachable"
    node.start()
    assert node.getblockcount() == 5 and node.getbestblockhash() == tip
    assert long_lived.call("getbestblockhash") == tip  # it re-read the new cookie by itself
    long_lived.close()
    assert node.terminate() == 0  # SIGTERM is a clean stop too
    assert not (node.datadir / ".cookie").exists()
    assert "stopped" in node.read_log()


def test_rpc_auth_rpcuser_rpcpassword_writes_no_cookie(node_factory):
    """As bitcoind: with -rpcpassword the node writes no cookie and takes only those credentials."""
    node = node_factory(1, start=False)[0]
    node.start("-rpcuser=alice", "-rpcpassword=s3cret:with-colon", wait=False)
    client = RpcClient(f"http://127.0.0.1:{node.rpc_port}/", "alice", "s3cret:with-colon")

    def answers() -> bool:
        assert node.is_running(), node.read_log()
        try:
            return client.call("getblockcount") == 0
        except RpcError as exc:
            assert exc.reason == "node-unreachable", exc
            return False

    wait_until(answers, 30, "RPC with rpcuser/rpcpassword")
    assert not (node.datadir / ".cookie").exists()
    with pytest.raises(RpcError) as refused:
        RpcClient(f"http://127.0.0.1:{node.rpc_port}/", "alice", "wrong").call("getblockcount")
    assert refused.value.reason == "unauthorized"
    waiting = {}  # a waitfornewblock without a time limit must not hold the stop back
    waiter = threading.Thread(
        target=lambda: waiting.update(
            RpcClient(f"http://127.0.0.1:{node.rpc_port}/", "alice", "s3cret:with-colon").call("waitfornewblock")
        )
    )
    waiter.start()
    wait_until(
        lambda: any(c["method"] == "waitfornewblock" for c in client.call("getrpcinfo")["active_commands"]),
        30,
        "waitfornewblock running",
    )
    genesis = client.call("getblockhash", 0)
    client.call("stop")
    assert node.wait_for_exit(30) == 0
    waiter.join(30)
    assert waiting == {"hash": genesis, "height": 0}
    client.close()
