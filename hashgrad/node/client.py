"""The one client of a hashgrad node: typed reads, artifacts and transactions over JSON-RPC.

Roles, the wallet, the explorer and the devnet all talk to their node through `NodeClient`, made by
`connect_node` (the node's datadir holds the RPC cookie). The transport is `RpcClient` (blocking,
one kept-alive connection); every reply is checked once, in `hashgrad.node.replies`, and comes back
as a frozen dataclass. Node errors keep the node's reason codes; a malformed reply is `bad-response`,
a node that cannot be reached `node-unreachable`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from pathlib import Path

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.encoding import parse_hex
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import ChainParams, get_network
from hashgrad.chain.tx import Transaction
from hashgrad.errors import HashgradError, RpcError, WorkError
from hashgrad.node.replies import (
    HASH_SIZE,
    Account,
    ChainInfo,
    EpochInfo,
    JobInfo,
    Metagraph,
    get_bool,
    get_int,
    get_list,
    get_object,
    parse_account,
    parse_chain_info,
    parse_epoch,
    parse_job,
    parse_metagraph,
    parse_round_announcement,
)
from hashgrad.node.rpc_client import COOKIE_FILE, DEFAULT_TIMEOUT_S, RpcClient
from hashgrad.p2p.rounds import MAX_PER_ROUND, MAX_ROUNDS, RoundAnnouncement

DEFAULT_RPC_HOST = "127.0.0.1"
MAX_HISTORY_LIMIT = 1000


class NodeClient:
    """`NodeClient(rpc, params)`: typed calls on one node of the network `params` names."""

    def __init__(self, rpc: RpcClient, params: ChainParams):
        self.rpc = rpc
        self.params = params

    # ------------------------------------------------------------ raw calls (`hashgrad rpc`, pass-through)
    def call(self, method: str, *params):
        return self.rpc.call(method, *params)

    def batch(self, calls: list[tuple]) -> list:
        return self.rpc.batch(calls)

    def close(self) -> None:
        self.rpc.close()

    # ------------------------------------------------------------ chain
    def get_chain_info(self) -> ChainInfo:
        return parse_chain_info(self.rpc.call("getblockchaininfo"))

    def check_network(self) -> ChainInfo:
        """The node's chain info; network-mismatch when it runs another network than this client's."""
        info = self.get_chain_info()
        if info.chain != self.params.name:
            raise HashgradError(
                "network-mismatch", f"the node runs {info.chain}, this client is for {self.params.name}"
            )
        return info

    def get_block_count(self) -> int:
        return get_int({"blocks": self.rpc.call("getblockcount")}, "blocks", "getblockcount")

    def get_block_hash(self, height: int) -> bytes:
        """The hash of the active chain's block at `height`, in internal byte order."""
        reply = self.rpc.call("getblockhash", height)
        return parse_hex(reply, "getblockhash", size=HASH_SIZE, reason="bad-response", error=RpcError)[::-1]

    # ------------------------------------------------------------ accounts and jobs
    def get_account(self, address: str) -> Account:
        return parse_account(self.rpc.call("getaccount", address), address)

    def get_account_of(self, pubkey: bytes) -> Account:
        return self.get_account(self.get_address(pubkey))

    def get_address(self, pubkey: bytes) -> str:
        return encode_address(self.params.hrp, pubkey)

    def get_address_history(self, address: str, limit: int) -> list[dict]:
        """Pending then mined transactions touching `address`, newest first, as the node describes them."""
        reply = get_list(self.rpc.call("getaddresshistory", address, limit), "getaddresshistory")
        return [get_object(item, "getaddresshistory") for item in reply[:MAX_HISTORY_LIMIT]]

    def get_job(self, job_id: int) -> JobInfo:
        return parse_job(self.rpc.call("getjob", job_id), job_id)

    def get_epoch(self, job_id: int, epoch: int) -> EpochInfo:
        return parse_epoch(self.rpc.call("getepoch", job_id, epoch), job_id, epoch)

    def get_metagraph(self, job_id: int) -> Metagraph:
        return parse_metagraph(self.rpc.call("getmetagraph", job_id), job_id)

    # ------------------------------------------------------------ artifacts
    def put_artifact(self, data: bytes) -> bytes:
        result = get_object(self.rpc.call("putartifact", base64.b64encode(data).decode()), "putartifact")
        artifact_id = hashlib.sha256(data).digest()
        if result.get("artifact_id") != artifact_id.hex():
            raise WorkError("bad-artifact-hash", "the node stored the artifact under another id")
        return artifact_id

    def get_artifact(self, artifact_id: bytes) -> bytes:
        """The bytes stored under `artifact_id` (their SHA-256), checked to hash to it."""
        result = get_object(self.rpc.call("getartifact", artifact_id.hex()), "getartifact")  # natural byte order
        try:
            data = base64.b64decode(result["data"], validate=True)
        except (KeyError, TypeError, binascii.Error, ValueError):
            raise RpcError("bad-response", "getartifact did not return base64 data") from None
        if hashlib.sha256(data).digest() != artifact_id:
            raise WorkError("bad-artifact-hash", f"bytes for {artifact_id.hex()} do not hash to it")
        return data

    # ------------------------------------------------------------ round announcements (p2p/rounds.py)
    def announce_round(self, ann: RoundAnnouncement) -> bool:
        """Hand a signed round announcement to the node (it relays it); whether it was new there."""
        reply = get_object(self.rpc.call("announceround", ann.serialize().hex()), "announceround")
        return get_bool(reply, "new", "announceround")

    def list_round_artifacts(self, job_id: int, epoch: int, round_index: int | None = None) -> list[RoundAnnouncement]:
        """The signed announcements the node holds for one round of a job's epoch (or every round), each
        checked (fields and signature; a bad one is `bad-response`)."""
        args = (job_id, epoch) if round_index is None else (job_id, epoch, round_index)
        rows = get_list(self.rpc.call("listroundartifacts", *args), "listroundartifacts")
        return [parse_round_announcement(row) for row in rows[: MAX_PER_ROUND * MAX_ROUNDS]]

    # ------------------------------------------------------------ transactions
    def get_next_nonce(self, pubkey: bytes) -> int:
        """The nonce the key's next transaction takes, after its pending ones."""
        return self.get_account_of(pubkey).pending_nonce

    def submit(self, tx: Transaction) -> str:
        """Send a signed transaction; its txid (display hex), checked against the one the node reports."""
        txid = self.rpc.call("sendrawtransaction", tx.serialize().hex())
        expected = hash_to_display(tx.txid)
        if txid != expected:
            raise RpcError("bad-response", f"sendrawtransaction returned {str(txid)[:80]!r}, expected {expected}")
        return txid

    def submit_built(self, build, key: SigningKey, *args, **kwargs) -> str:
        """Build a transaction with the key's next nonce (from the node's mempool view) and submit it."""
        return self.submit(build(key, self.params.magic, self.get_next_nonce(key.pubkey), *args, **kwargs))


def connect_node(
    network: str,
    datadir: Path | str | None,
    rpcport: int | None = None,
    rpcconnect: str = DEFAULT_RPC_HOST,
    timeout: float = DEFAULT_TIMEOUT_S,
    cookie_file: Path | str | None = None,
) -> NodeClient:
    """A client of the node of `network`, with the RPC cookie from its datadir (or `cookie_file`), re-read
    if the node restarts; rpcport defaults to the network's. Nothing is sent yet: a node that is down
    fails the first call (`node-unreachable`)."""
    params = get_network(network)
    port = params.rpc_port if rpcport is None else rpcport
    if type(port) is not int or not 1 <= port <= 65535:
        raise RpcError("bad-arguments", f"RPC port out of range: {port}", -8)
    if cookie_file is None:
        if datadir is None:
            raise RpcError("bad-arguments", "give the node's datadir (or its cookie file) to read the cookie", -8)
        cookie_file = Path(datadir) / COOKIE_FILE
    return NodeClient(RpcClient.from_cookie_file(cookie_file, port, rpcconnect, timeout), params)


def wait_until(predicate, timeout: float, interval: float = 0.25, stop=None) -> bool:
    """Poll predicate() until true, the timeout passes, or stop() is true; a node that cannot be
    reached (starting, restarting) counts as false, any other error is raised."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stop is not None and stop():
            return False
        try:
            if predicate():
                return True
        except RpcError as exc:
            if exc.reason != "node-unreachable":
                raise
        time.sleep(interval)
    return False
