"""The explorer's JSON API against a real regtest node process, queried over HTTP as the page does:
each endpoint answers what the node's RPC says, bad input is 400 with a reason, unknown objects 404,
and a node that is down (or restarted with a new cookie) is handled."""

from __future__ import annotations

import shutil

import pytest

from functional.framework import TestNode
from functional.web_helpers import COIN, ExplorerProcess, http_get
from hashgrad.chain.tx import make_transfer
from hashgrad.web.live import EMPTY_LIVE

pytestmark = pytest.mark.functional


def get_ok(explorer, path: str):
    status, body = explorer.get(path)
    assert status == 200, (path, body)
    return body


def test_status_matches_the_node(explorer, regtest_chain):
    node = regtest_chain.node
    status = get_ok(explorer, "/api/status")
    assert status["network"] == "regtest"
    assert status["height"] == node.getblockcount()
    assert status["bestblockhash"] == node.getbestblockhash()
    assert status["supply"]["issued"] == node.getsupply()["issued"] > 0
    assert status["peers"] == 0
    assert status["mempool"]["size"] == node.getmempoolinfo()["size"]


def test_recent_blocks_newest_first(explorer, regtest_chain):
    node = regtest_chain.node
    tip = node.getblockcount()
    reply = get_ok(explorer, "/api/blocks?count=5")
    assert reply["tip"] == tip
    assert [b["height"] for b in reply["blocks"]] == list(range(tip, tip - 5, -1))
    assert [b["hash"] for b in reply["blocks"]] == [node.getblockhash(h) for h in range(tip, tip - 5, -1)]
    assert [b["height"] for b in get_ok(explorer, "/api/blocks?from=2&count=50")["blocks"]] == [2, 1, 0]
    assert get_ok(explorer, f"/api/blocks?from={tip + 1000}&count=1")["blocks"][0]["height"] == tip


def test_block_by_hash_and_by_height_with_kinds_decoded(explorer, regtest_chain):
    node = regtest_chain.node
    block_hash = regtest_chain.activity_block
    by_hash = get_ok(explorer, f"/api/block/{block_hash.upper()}")
    by_height = get_ok(explorer, f"/api/block/{by_hash['height']}")
    assert by_hash["hash"] == by_height["hash"] == block_hash
    assert by_hash["tx_not_shown"] == 0
    assert [tx["txid"] for tx in by_hash["tx"]] == node.getblock(block_hash, 1)["tx"]
    kinds = [tx["kind"] for tx in by_hash["tx"]]
    assert kinds == ["coinbase"] + ["register"] * len(regtest_chain.hotkeys) + ["add_stake", "transfer"]
    staked = by_hash["tx"][-2]
    assert staked["hotkey_address"] == regtest_chain.address(regtest_chain.hotkeys[0])
    assert staked["amount"] == 2 * COIN


def test_transaction_mined(explorer, regtest_chain):
    tx = get_ok(explorer, f"/api/tx/{regtest_chain.transfer_txid}")
    assert tx["kind"] == "transfer"
    assert tx["in_mempool"] is False
    assert tx["blockhash"] == regtest_chain.activity_block
    assert tx["recipient"] == regtest_chain.address(regtest_chain.recipient)
    assert tx["amount"] == 3 * COIN


def test_transaction_pending_then_mined(explorer, regtest_chain):
    node, coldkey = regtest_chain.node, regtest_chain.coldkey
    tx = make_transfer(
        coldkey, node.params.magic, regtest_chain.next_nonce(coldkey), regtest_chain.recipient.pubkey, COIN, 1_000
    )
    txid = regtest_chain.submit(tx)
    pending = get_ok(explorer, f"/api/tx/{txid}")
    assert pending["in_mempool"] is True and pending["confirmations"] == 0
    assert txid in get_ok(explorer, "/api/status")["mempool"]["txids"]
    node.generate(1)
    mined = get_ok(explorer, f"/api/tx/{txid}")
    assert mined["in_mempool"] is False and mined["height"] == node.getblockcount()


def test_account_balance_stake_registrations_history(explorer, regtest_chain):
    node = regtest_chain.node
    coldkey = regtest_chain.address(regtest_chain.coldkey)
    account = get_ok(explorer, f"/api/account/{coldkey}")
    assert account["balance"] == node.getaccount(coldkey)["balance"]
    assert regtest_chain.transfer_txid in [tx["txid"] for tx in account["history"]]
    assert {tx["kind"] for tx in account["history"]} >= {"coinbase", "register", "add_stake", "transfer"}
    hotkey = get_ok(explorer, f"/api/account/{regtest_chain.address(regtest_chain.hotkeys[0])}")
    assert hotkey["stake"] == 2 * COIN
    assert hotkey["registrations"] == [{"job": 0, "uid": 0}]


def test_jobs_metagraph_and_epoch(explorer, regtest_chain, live_file):
    node = regtest_chain.node
    jobs = get_ok(explorer, "/api/jobs")
    assert [j["job"] for j in jobs] == [0, 1]
    assert jobs[0]["n_uids"] == len(regtest_chain.hotkeys)
    metagraph = get_ok(explorer, "/api/metagraph/0")
    assert [u["hotkey"] for u in metagraph["uids"]] == [k.pubkey.hex() for k in regtest_chain.hotkeys]
    assert [(u["role"], u["adversary"]) for u in metagraph["uids"]] == [
        ("validator", None),
        ("miner", None),
        ("miner", "lazy"),
    ]
    assert metagraph["uids"][0]["stake"] == 2 * COIN
    assert get_ok(explorer, "/api/metagraph/1")["uids"] == []
    assert get_ok(explorer, "/api/epoch/0/0") == node.getepoch(0, 0) | {"height": node.getblockcount()}


def test_devnet_live_file(explorer, live_file):
    path, document = live_file
    assert get_ok(explorer, "/api/devnet") == document
    moved = path.with_suffix(".moved")
    shutil.move(path, moved)
    try:
        assert get_ok(explorer, "/api/devnet") == EMPTY_LIVE  # no file (yet): no epochs
        path.write_text('{"epochs": [{"epoch": -1}]}')
        status, body = explorer.get("/api/devnet")
        assert (status, body["error"]) == (500, "bad-live-file")
        assert {u["role"] for u in get_ok(explorer, "/api/metagraph/0")["uids"]} == {None}  # roles unknown
    finally:
        shutil.move(moved, path)


def test_search_leads_to_blocks_transactions_and_accounts(explorer, regtest_chain):
    node = regtest_chain.node
    assert get_ok(explorer, "/api/search?q=2") == {"kind": "block", "id": node.getblockhash(2)}
    assert get_ok(explorer, f"/api/search?q={regtest_chain.activity_block}") == {
        "kind": "block",
        "id": regtest_chain.activity_block,
    }
    assert get_ok(explorer, f"/api/search?q={regtest_chain.transfer_txid}") == {
        "kind": "tx",
        "id": regtest_chain.transfer_txid,
    }
    address = regtest_chain.address(regtest_chain.recipient)
    assert get_ok(explorer, f"/api/search?q={address}") == {"kind": "account", "id": address}


@pytest.mark.parametrize(
    "path, reason",
    [
        ("/api/block/zz", "bad-block-ref"),
        ("/api/block/" + "a" * 63, "bad-block-ref"),
        ("/api/block/-1", "bad-block-ref"),
        ("/api/block/" + "g" * 64, "bad-hash"),
        ("/api/block/2147483648", "bad-height"),
        ("/api/block/" + "1" * 5000, "bad-block-ref"),
        ("/api/tx/xyz", "bad-hash"),
        ("/api/tx/" + "0" * 65, "bad-hash"),
        ("/api/account/nobody", "bad-address"),
        ("/api/account/" + "q" * 300, "bad-address"),
        ("/api/account/hg1qxgw76lk6khlmtuy7lm7n5cvsfk9j853myevngl3zfegr3x6ju5fqny2haq", "bad-address"),
        ("/api/blocks?count=0", "bad-count"),
        ("/api/blocks?count=51", "bad-count"),
        ("/api/blocks?count=x", "bad-count"),
        ("/api/blocks?from=-1", "bad-height"),
        ("/api/blocks?from=1.5", "bad-height"),
        ("/api/metagraph/7", "bad-job"),
        ("/api/metagraph/x", "bad-job"),
        ("/api/epoch/0/-1", "bad-epoch"),
        ("/api/epoch/0/99999999999", "bad-epoch"),
        ("/api/epoch/9/0", "bad-job"),
        ("/api/search?q=", "bad-query"),
        ("/api/search?q=hello", "bad-query"),
        ("/api/search?q=rhg1zzz", "bad-address"),
    ],
)
def test_invalid_input_is_400_with_a_reason(explorer, path, reason):
    status, body = explorer.get(path)
    assert status == 400, body
    assert body["error"] == reason


@pytest.mark.parametrize(
    "path",
    [
        "/api/block/" + "0" * 64,
        "/api/block/100000",
        "/api/tx/" + "0" * 64,
        "/api/search?q=" + "0" * 64,
        "/api/no-such-endpoint",
        "/api/search?q=100000",
    ],
)
def test_unknown_objects_are_404(explorer, path):
    status, body = explorer.get(path)
    assert status == 404, body
    assert body["error"] in ("not-found", "out-of-range")


def test_page_static_files_and_read_only(explorer):
    status, html, headers = http_get(explorer.url, "/")
    assert status == 200 and 'id="height"' in html and "/static/app.js" in html
    assert "default-src 'self'" in headers["content-security-policy"]
    assert explorer.get("/static/app.js")[0] == 200
    assert explorer.get("/static/../cli/main.py")[0] == 404
    assert explorer.get("/static/secret.txt")[0] == 404
    assert explorer.get("/api/status", method="POST") == (405, {"error": "bad-request", "detail": "Method Not Allowed"})
    assert explorer.get("/api/whatever", method="DELETE")[0] == 405


def test_node_down_then_up_then_restarted(tmp_path):
    """503 node-unreachable while no node runs; the cookie is read when the node appears, and read again
    at once when a restart replaces it (the old cookie's `unauthorized` is retried with the new one)."""
    node = TestNode(0, tmp_path)
    node.datadir.mkdir(parents=True)
    explorer = ExplorerProcess(node.datadir, node.rpc_port, None, tmp_path / "explorer.log")
    try:
        explorer.wait_ready()
        status, body = explorer.get("/api/status")
        assert status == 503 and body["error"] == "node-unreachable"
        assert str(node.datadir) not in body["detail"]  # no local path goes to the browser
        assert explorer.get("/api/devnet") == (200, EMPTY_LIVE)
        node.start()
        for _ in range(8):  # every worker thread of the explorer gets a client with this cookie
            assert explorer.get("/api/status")[1]["height"] == 0
        node.stop()
        node.start()
        node.generate(1)
        for _ in range(8):
            assert explorer.get("/api/status")[1]["height"] == 1
        node.stop()
        assert explorer.get("/api/status")[0] == 503
    finally:
        explorer.stop()
        node.cleanup()
