"""Bitcoin's own tools against a real node, unmodified: python-bitcoinrpc, python-bitcoinlib, pyzmq.

One node serves the module (starting processes is the expensive part), started as the README says:
cookie auth plus an `--rpcauth` line, `--blocknotify`, and Core-spelled `-zmqpub*` options. The
checks: the HTTP/JSON-RPC layer byte for byte as Bitcoin Core 28 (Content-Type, 1.0 and 2.0
replies, notifications, batches, keep-alive, statuses); the calls explorers and pools make, through
`AuthServiceProxy` and `bitcoin.rpc.Proxy`; a pool's getblocktemplate → solve → submitblock (with
proposal mode and a long poll woken by the block), and createauxblock → a Bitcoin parent built with
python-bitcoinlib → submitauxblock; every block and transaction reaching a ZMQ subscriber in order
with Core's frames and per-topic sequence numbers; blocknotify writing every new tip.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import secrets
import struct
import threading

import bitcoin.rpc
import pytest
import zmq
from bitcoin.core import CBlock, CBlockHeader, CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, lx
from bitcoin.core.script import CScript
from bitcoinrpc.authproxy import AuthServiceProxy, JSONRPCException

from functional.framework import TestNode, find_free_port, new_address, wait_until
from hashgrad.chain.hashes import display_to_hash
from hashgrad.chain.header import BlockHeader
from hashgrad.chain.tx import make_coinbase, make_transfer, parse_transaction

ZMQ_TOPICS = (b"hashblock", b"hashtx", b"rawblock", b"rawtx")


def make_rpcauth_line(user: str, password: str) -> str:
    """What Bitcoin Core's share/rpcauth/rpcauth.py prints (computed here independently of the node)."""
    salt = secrets.token_hex(16)
    return f"{user}:{salt}${hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()}"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("clients")
    node = TestNode(0, root)
    zmq_block, zmq_tx = find_free_port(), find_free_port()
    password = "pool-secret-" + secrets.token_hex(4)
    miner_key, miner_address = new_address(node.params)
    node.start(
        f"-rpcauth={make_rpcauth_line('pool', password)}",
        f"-blocknotify=echo %s >> {root / 'notified.txt'}",
        f"-zmqpubhashblock=tcp://127.0.0.1:{zmq_block}",
        f"-zmqpubrawblock=tcp://127.0.0.1:{zmq_block}",
        f"--zmqpubhashtx=tcp://127.0.0.1:{zmq_tx}",
        f"--zmqpubrawtx=tcp://127.0.0.1:{zmq_tx}",
        "--payout",
        miner_address,
    )
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVTIMEO, 30_000)
    for topic in ZMQ_TOPICS:
        sub.setsockopt(zmq.SUBSCRIBE, topic)
    sub.connect(f"tcp://127.0.0.1:{zmq_block}")
    sub.connect(f"tcp://127.0.0.1:{zmq_tx}")
    cookie = (node.datadir / ".cookie").read_text()
    conf = root / "bitcoin.conf"
    conf.write_text(f"rpcport={node.rpc_port}\nrpcconnect=127.0.0.1\ndatadir={node.datadir}\n")
    try:
        yield {
            "node": node,
            "root": root,
            "sub": sub,
            "password": password,
            "cookie": cookie,
            "conf": conf,
            "miner_key": miner_key,
            "miner_address": miner_address,
            "zmq": (zmq_block, zmq_tx),
            "url": f"http://{cookie}@127.0.0.1:{node.rpc_port}/",
        }
    finally:
        sub.close(linger=0)
        context.term()
        node.cleanup()


def raw_post(conn: http.client.HTTPConnection, body, auth: str | None) -> http.client.HTTPResponse:
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    conn.request("POST", "/", body=json.dumps(body) if not isinstance(body, bytes) else body, headers=headers)
    return conn.getresponse()


# ---------------------------------------------------------------- the HTTP and JSON-RPC layer
def test_rpc_http_and_jsonrpc_as_core(env):
    node, cookie = env["node"], env["cookie"]
    conn = http.client.HTTPConnection("127.0.0.1", node.rpc_port, timeout=30)

    def call(body, auth=cookie):
        response = raw_post(conn, body, auth)
        data = response.read()
        return response.status, response.getheader("Content-Type"), data

    status, ctype, data = call({"method": "getblockcount", "params": [], "id": 1})
    assert (status, ctype) == (200, "application/json") and data.endswith(b"\n")
    assert json.loads(data) == {"result": 0, "error": None, "id": 1}
    sock = conn.sock
    status, _, data = call({"jsonrpc": "2.0", "method": "getblockcount", "id": "a"})
    assert conn.sock is sock  # the same kept-alive connection
    assert json.loads(data) == {"jsonrpc": "2.0", "result": 0, "id": "a"}
    status, ctype, data = call({"jsonrpc": "2.0", "method": "nosuch", "id": 2})
    reply = json.loads(data)
    assert (status, ctype) == (200, "application/json") and set(reply) == {"jsonrpc", "error", "id"}
    assert reply["error"]["code"] == -32601
    status, _, data = call({"jsonrpc": "1.0", "method": "nosuch", "id": 3})
    assert status == 404 and json.loads(data)["result"] is None and json.loads(data)["error"]["code"] == -32601
    status, _, data = call({"method": "getblockhash", "params": [99], "id": 4})
    assert status == 500 and json.loads(data)["error"]["code"] == -8
    status, _, data = call({"method": "getblockcount"})  # legacy without id: Core leaves id out
    assert status == 200 and json.loads(data) == {"result": 0, "error": None}
    status, _, data = call({"jsonrpc": "2.0", "method": "getblockcount"})  # a notification
    assert (status, data) == (204, b"")
    status, _, data = call({"jsonrpc": "3.0", "method": "getblockcount", "id": 5})
    assert status == 400 and json.loads(data)["error"]["code"] == -32600
    status, _, data = call({"method": "getblockcount", "params": "x", "id": 6})
    assert status == 400 and json.loads(data)["error"]["code"] == -32600
    status, _, data = call(
        {"method": "getblock", "params": {"blockhash": node.getblockhash(0), "verbosity": 0}, "id": 7}
    )  # named parameters, as bitcoin-cli -named sends them
    assert status == 200 and json.loads(data)["result"] == node.getblock(node.getblockhash(0), 0)
    status, _, data = call({"method": "getblock", "params": {"block": "00"}, "id": 8})
    assert status == 500 and json.loads(data)["error"]["code"] == -8
    status, _, data = call(b"{nope")
    assert status == 500 and json.loads(data) == {
        "result": None,
        "error": {"code": -32700, "message": "parse-error: Parse error", "reason": "parse-error"},
        "id": None,
    }
    batch = [
        {"jsonrpc": "2.0", "method": "getblockcount", "id": 1},
        {"jsonrpc": "2.0", "method": "getblockcount"},
        {"method": "getblockhash", "params": [0], "id": 2},
        {"jsonrpc": "2.0", "method": "nosuch", "id": 3},
    ]
    status, _, data = call(batch)
    replies = json.loads(data)
    assert status == 200 and [r["id"] for r in replies] == [1, 2, 3]
    assert replies[0] == {"jsonrpc": "2.0", "result": 0, "id": 1}  # the notification got no reply
    assert replies[1] == {"result": node.getblockhash(0), "error": None, "id": 2}
    assert replies[2]["error"]["code"] == -32601 and "result" not in replies[2]
    status, _, data = call([{"jsonrpc": "2.0", "method": "getblockcount"}])
    assert (status, data) == (204, b"")
    status, _, data = call([])
    assert (status, json.loads(data)) == (200, [])
    response = raw_post(conn, {"method": "getblockcount", "id": 1}, None)
    response.read()
    assert response.status == 401 and response.getheader("WWW-Authenticate") == 'Basic realm="jsonrpc"'
    conn.request("GET", "/")
    response = conn.getresponse()
    assert response.status == 405 and b"only POST" in response.read()
    conn.close()


def test_rpc_auth_by_rpcauth_line(env):
    node = env["node"]
    pool = AuthServiceProxy(f"http://pool:{env['password']}@127.0.0.1:{node.rpc_port}/")
    assert pool.getblockcount() == node.getblockcount()
    wrong = AuthServiceProxy(f"http://pool:not-{env['password']}@127.0.0.1:{node.rpc_port}/")
    with pytest.raises(JSONRPCException) as refused:
        wrong.getblockcount()
    assert "401" in refused.value.message  # python-bitcoinrpc's "non-JSON HTTP response with '401 ...'"


# ---------------------------------------------------------------- the calls, through both clients
def test_python_bitcoinrpc_calls(env):
    node = env["node"]
    proxy = AuthServiceProxy(env["url"])
    hashes = proxy.generatetoaddress(3, new_address(node.params)[1])
    assert proxy.getblockcount() == 3 and proxy.getbestblockhash() == hashes[-1]
    assert float(proxy.getdifficulty()) == pytest.approx(4.656542373906925e-10)  # Core's regtest value
    assert proxy.getblockhash(3) == hashes[-1]
    mining = proxy.getmininginfo()
    assert mining["blocks"] == 3 and mining["chain"] == "regtest" and mining["networkhashps"] > 0
    assert proxy.getnetworkhashps() == mining["networkhashps"] and proxy.getnetworkhashps(1, 0) == 0
    tips = proxy.getchaintips()
    assert tips == [{"height": 3, "hash": hashes[-1], "branchlen": 0, "status": "active"}]
    header = proxy.getblockheader(hashes[1])
    assert header["height"] == 2 and header["nextblockhash"] == hashes[2] and header["confirmations"] == 2
    raw_header = proxy.getblockheader(hashes[1], False)
    assert len(raw_header) == 160 and BlockHeader.deserialize(bytes.fromhex(raw_header)).hash_hex == hashes[1]
    block1 = proxy.getblock(hashes[0])
    assert block1["height"] == 1 and len(block1["tx"]) == 1 and "auxpow" not in block1
    block2 = proxy.getblock(hashes[0], 2)
    assert block2["tx"][0]["kind"] == "coinbase" and block2["tx"][0]["txid"] == block1["tx"][0]
    assert proxy.getblock(hashes[0], 0) == proxy.getblock(hashes[0], False)
    stats = proxy.getblockstats(2)
    assert stats["blockhash"] == hashes[1] and stats["txs"] == 1 and stats["subsidy"] > 0
    assert proxy.getblockstats(hashes[1], ["height", "txs"]) == {"height": 2, "txs": 1}
    coinbase = proxy.getrawtransaction(block1["tx"][0], True)
    decoded = proxy.decoderawtransaction(coinbase["hex"])
    assert decoded["txid"] == coinbase["txid"] and decoded["kind"] == "coinbase"
    out = proxy.gettxout(coinbase["txid"], 0)
    assert out["coinbase"] is True and out["confirmations"] == 3 and out["value"] == decoded["amount"]
    assert proxy.gettxout(coinbase["txid"], 1) is None
    valid = proxy.validateaddress(decoded["recipient"])
    assert valid["isvalid"] is True and valid["address"] == decoded["recipient"]
    assert proxy.validateaddress("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")["isvalid"] is False
    fee = proxy.estimatesmartfee(6)
    assert fee["blocks"] == 6 and fee["feerate"] >= 1000
    totals = proxy.getnettotals()
    assert {"totalbytesrecv", "totalbytessent", "timemillis"} <= set(totals)
    notifications = proxy.getzmqnotifications()
    block_port, tx_port = env["zmq"]
    assert {(n["type"], n["address"]) for n in notifications} == {
        ("pubhashblock", f"tcp://127.0.0.1:{block_port}"),
        ("pubrawblock", f"tcp://127.0.0.1:{block_port}"),
        ("pubhashtx", f"tcp://127.0.0.1:{tx_port}"),
        ("pubrawtx", f"tcp://127.0.0.1:{tx_port}"),
    }
    assert proxy.waitfornewblock(50) == {"hash": hashes[-1], "height": 3}  # timed out: the tip as it is
    assert proxy.waitforblockheight(2, 50) == {"hash": hashes[-1], "height": 3}
    # batch_ sends JSON-RPC 2.0 items; since Bitcoin Core 28 their replies omit "error", which
    # python-bitcoinrpc 1.0's batch_ indexes (KeyError): the same against bitcoind 28
    # (jgarzik/python-bitcoinrpc#112). Single calls (1.1 requests, legacy replies) are unaffected.
    with pytest.raises(KeyError):
        proxy.batch_([["getblockcount"], ["getblockhash", 1]])
    with pytest.raises(JSONRPCException) as error:
        proxy.getblock("00" * 32)
    assert error.value.code == -5


def test_python_bitcoinlib_proxy(env):
    node = env["node"]
    proxy = bitcoin.rpc.Proxy(btc_conf_file=str(env["conf"]))  # reads our port, host and cookie
    height = proxy.getblockcount()
    assert height == node.getblockcount()
    best = proxy.getbestblockhash()  # bytes, internal order
    assert best == display_to_hash(node.getbestblockhash()) == proxy.getblockhash(height)
    header = proxy.getblockheader(best)  # a python-bitcoinlib CBlockHeader, hashed by python-bitcoinlib
    assert isinstance(header, CBlockHeader) and header.GetHash() == best
    info = proxy.getblockheader(best, True)
    assert info["height"] == height and info["nextblockhash"] is None
    assert proxy.getrawmempool() == []
    assert proxy.call("getmininginfo")["blocks"] == height
    assert proxy.call("validateaddress", new_address(node.params)[1])["isvalid"] is True
    replies = proxy._batch([{"method": "getblockcount", "id": 1}, {"method": "getblockhash", "params": [0], "id": 2}])
    assert replies == [
        {"result": height, "error": None, "id": 1},
        {"result": node.getblockhash(0), "error": None, "id": 2},
    ]
    with pytest.raises(IndexError):
        proxy.getblockhash(height + 100)


# ---------------------------------------------------------------- pools
def solve_header(header: CBlockHeader, target: int) -> CBlockHeader:
    """Grind the nonce with python-bitcoinlib's hashing, as a miner would."""
    for nonce in range(1 << 24):
        solved = CBlockHeader(
            header.nVersion, header.hashPrevBlock, header.hashMerkleRoot, header.nTime, header.nBits, nonce
        )
        if int.from_bytes(solved.GetHash(), "little") <= target:
            return solved
    raise AssertionError("no nonce found")


def build_block_from_template(gbt: dict, payout: bytes, tag: bytes) -> bytes:
    """A pool's block: our coinbase (hashgrad's format) + the template's transactions, header solved with bitcoinlib."""
    coinbase = make_coinbase(gbt["height"], payout, gbt["coinbasevalue"], tag)
    txs_hex = [coinbase.serialize().hex()] + [t["data"] for t in gbt["transactions"]]
    txids = [coinbase.txid] + [lx(t["txid"]) for t in gbt["transactions"]]
    root = CBlock.build_merkle_tree_from_txids(txids)[-1]
    header = CBlockHeader(gbt["version"], lx(gbt["previousblockhash"]), root, gbt["curtime"], int(gbt["bits"], 16), 0)
    header = solve_header(header, int(gbt["target"], 16))
    count = bytes([len(txs_hex)])
    return header.serialize() + count + b"".join(bytes.fromhex(t) for t in txs_hex)


def test_pool_getblocktemplate_submitblock_and_long_poll(env):
    node = env["node"]
    proxy = bitcoin.rpc.Proxy(btc_conf_file=str(env["conf"]))
    key = env["miner_key"]
    node.generate(1, env["miner_address"])  # a block paying the test's key, so it can send
    for nonce in range(2):  # two transfers from one sender: the second depends on the first
        tx = make_transfer(key, node.params.magic, nonce, new_address(node.params)[0].pubkey, 1_000, 5_000)
        node.sendrawtransaction(tx.serialize().hex())
    gbt = proxy.call("getblocktemplate", {"rules": ["segwit"], "capabilities": ["proposal", "longpoll"]})
    assert gbt["capabilities"] == ["proposal"] and gbt["mutable"] == ["time", "transactions", "prevblock"]
    assert gbt["previousblockhash"] == node.getbestblockhash() and gbt["noncerange"] == "00000000ffffffff"
    assert [t["depends"] for t in gbt["transactions"]] == [[], [1]]
    assert gbt["mintime"] == node.getblockheader(gbt["previousblockhash"])["mediantime"] + 1 <= gbt["curtime"]
    assert gbt["longpollid"].startswith(gbt["previousblockhash"])

    woken = {}
    waiter = threading.Thread(
        target=lambda: woken.update(
            AuthServiceProxy(env["url"], timeout=60).getblocktemplate({"longpollid": gbt["longpollid"]})
        )
    )
    waiter.start()
    wait_until(
        lambda: any(c["method"] == "getblocktemplate" for c in node.getrpcinfo()["active_commands"]),
        30,
        "the long poll waiting at the node",
    )
    raw = build_block_from_template(gbt, new_address(node.params)[0].pubkey, b"/bitcoinlib-pool/")
    assert proxy.call("getblocktemplate", {"mode": "proposal", "data": raw.hex()}) is None
    bad = bytearray(raw)
    bad[-1] ^= 1  # breaks a signature (and the Merkle root)
    assert proxy.call("getblocktemplate", {"mode": "proposal", "data": bytes(bad).hex()}) == "bad-txnmrklroot"
    assert woken == {}  # still waiting: nothing new
    assert proxy.call("submitblock", raw.hex()) is None
    assert proxy.call("submitblock", raw.hex()) == "duplicate"
    assert proxy.call("getblocktemplate", {"mode": "proposal", "data": raw.hex()}) == "duplicate"
    waiter.join(60)
    block_hash = CBlockHeader.deserialize(raw[:80]).GetHash()
    assert woken["previousblockhash"] == node.getbestblockhash() == block_hash[::-1].hex()
    assert woken["transactions"] == [] and node.getrawmempool() == []


def test_pool_merge_mining_with_bitcoinlib_parent(env):
    node = env["node"]
    proxy = AuthServiceProxy(env["url"])
    work = proxy.createauxblock(new_address(node.params)[1])
    assert proxy.getauxblock()["previousblockhash"] == work["previousblockhash"]  # --payout's block
    # The pool's Bitcoin coinbase commits to our block hash (display order), as for Namecoin.
    commitment = b"\xfa\xbe\x6d\x6d" + bytes.fromhex(work["hash"]) + struct.pack("<II", 1, 0)
    coinbase = CMutableTransaction(
        [CMutableTxIn(COutPoint(), CScript(b"\x03\x40\x0d\x0d" + commitment))],
        [CMutableTxOut(312_500_000, CScript(b"\x51"))],
    )
    parent = CBlockHeader(
        0x20000000,
        lx("11" * 32),
        CBlock.build_merkle_tree_from_txids([coinbase.GetTxid()])[-1],
        1_800_000_000,
        0x207FFFFF,
        0,
    )
    parent = solve_header(parent, int.from_bytes(bytes.fromhex(work["_target"]), "little"))
    auxpow = (
        coinbase.serialize()
        + b"\x00" * 32
        + b"\x00"
        + struct.pack("<i", 0)
        + b"\x00"
        + struct.pack("<i", 0)
        + parent.serialize()
    )
    assert proxy.submitauxblock(work["hash"], auxpow.hex()) is True
    assert node.getbestblockhash() == work["hash"]
    shown = proxy.getblock(work["hash"], 2)["auxpow"]
    assert shown["parentblock"]["hash"] == parent.GetHash()[::-1].hex()
    assert shown["tx"]["txid"] == coinbase.GetTxid()[::-1].hex() and shown["merklebranch"] == []


# ---------------------------------------------------------------- notifications
def receive(sub) -> tuple[bytes, bytes, int]:
    topic, body, sequence = sub.recv_multipart()
    assert len(sequence) == 4
    return topic, body, struct.unpack("<I", sequence)[0]


def test_zmq_and_blocknotify_see_every_block_and_transaction_in_order(env):
    """Runs last: by now the node has made blocks from generate, submitblock and submitauxblock and
    admitted transactions; the subscriber (connected before any of them) must have every one, in order:
    a transaction when it enters the mempool and again when its block connects, as Core publishes."""
    node, sub = env["node"], env["sub"]
    expected_blocks = [node.getblockhash(h) for h in range(1, node.getblockcount() + 1)]
    expected_txs = []
    for block_hash in expected_blocks:
        txids = node.getblock(block_hash)["tx"]
        expected_txs += txids[1:] + txids  # admitted to the mempool, then connected
    assert len(expected_txs) > len(expected_blocks)  # the pool test's transfers are in there
    got = {topic: [] for topic in ZMQ_TOPICS}
    while len(got[b"hashblock"]) < len(expected_blocks) or len(got[b"rawtx"]) < len(expected_txs):
        topic, body, sequence = receive(sub)
        assert sequence == len(got[topic]), topic  # per-topic sequence numbers from 0, none missed
        got[topic].append(body)
    assert [h.hex() for h in got[b"hashblock"]] == expected_blocks
    assert [raw.hex() for raw in got[b"rawblock"]] == [node.getblock(h, 0) for h in expected_blocks]
    assert [h.hex() for h in got[b"hashtx"]] == expected_txs
    assert [parse_transaction(raw).txid[::-1].hex() for raw in got[b"rawtx"]] == expected_txs
    notified = env["root"] / "notified.txt"
    wait_until(
        lambda: notified.exists() and sorted(notified.read_text().split()) == sorted(expected_blocks),
        30,
        "blocknotify for every new tip",
    )


def test_getblocktemplate_refused_while_alone_outside_regtest(node_factory):
    """As Core's "Bitcoin Core is not connected!": on test/main a node with no peers hands out no work."""
    node = node_factory(1, network="test")[0]
    proxy = AuthServiceProxy(f"http://{(node.datadir / '.cookie').read_text()}@127.0.0.1:{node.rpc_port}/")
    with pytest.raises(JSONRPCException) as refused:
        proxy.getblocktemplate({"rules": ["segwit"]})
    assert refused.value.code == -9
    info = proxy.getblockchaininfo()
    assert info["chain"] == "test" and info["size_on_disk"] > 0 and 0 <= info["verificationprogress"] <= 1
    assert proxy.getnetworkinfo()["connections_in"] == 0 and proxy.getmempoolinfo()["total_fee"] == 0
