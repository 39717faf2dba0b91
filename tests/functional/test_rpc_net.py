"""Network RPCs: getpeerinfo, getnetworkinfo, addnode add/remove/onetry, disconnectnode, setnetworkactive.

`addnode add` (like `--connect`) makes the node keep a peer connected (getaddednodeinfo lists it):
dropped with disconnectnode it comes back by itself; `addnode remove` takes it off the list.
setnetworkactive false drops every peer and refuses new ones; true lets the added peer back.
"""

from __future__ import annotations

import pytest

from functional.framework import wait_until
from hashgrad.errors import RpcError

PEER_KEYS = {
    "id",
    "addr",
    "inbound",
    "version",
    "subver",
    "startingheight",
    "synced_height",
    "pingtime",
    "bytessent",
    "bytesrecv",
    "banscore",
    "conntime",
}


def has_outbound(node, target) -> bool:
    return any(p["addr"] == target.p2p_addr and p["handshaked"] for p in node.getpeerinfo())


def test_addnode_disconnectnode_setnetworkactive(node_factory):
    node0, node1 = node_factory(2)
    assert node1.addnode(node0.p2p_addr, "add") is None
    wait_until(lambda: has_outbound(node1, node0), 30, "the added peer connected")
    with pytest.raises(RpcError) as again:
        node1.addnode(node0.p2p_addr, "add")
    assert (again.value.reason, again.value.code) == ("node-already-added", -23)
    peer = node1.getpeerinfo()[0]
    assert PEER_KEYS <= set(peer) and not peer["inbound"] and peer["subver"] == "/hashgrad:0.1.0/"
    assert node0.getpeerinfo()[0]["inbound"] and node0.getconnectioncount() == 1
    info = node1.getnetworkinfo()
    assert (info["connections"], info["networkactive"], info["localport"]) == (1, True, node1.p2p_port)

    node1.disconnectnode(node0.p2p_addr)  # an added peer comes back by itself
    wait_until(lambda: has_outbound(node1, node0), 30, "the added peer reconnected")

    assert node1.setnetworkactive(False) is False
    wait_until(lambda: node1.getconnectioncount() == 0 and node0.getconnectioncount() == 0, 30, "no connections")
    assert node1.getnetworkinfo()["networkactive"] is False
    assert node0.addnode(node1.p2p_addr, "onetry") is None  # refused: node1's network is off
    assert node1.getconnectioncount() == 0
    assert node1.setnetworkactive(True) is True
    wait_until(lambda: has_outbound(node1, node0), 30, "the added peer back after setnetworkactive true")

    assert node1.getaddednodeinfo() == [{"addednode": node0.p2p_addr, "connected": True}]
    node1.addnode(node0.p2p_addr, "remove")
    assert node1.getaddednodeinfo() == []  # so the node no longer reconnects it
    with pytest.raises(RpcError) as removed:
        node1.addnode(node0.p2p_addr, "remove")
    assert removed.value.code == -24
    peer_id = node1.getpeerinfo()[0]["id"]
    node1.disconnectnode("", peer_id)
    wait_until(lambda: node1.getconnectioncount() == 0, 30, "disconnected by id")
    node1.generate(1)
    assert node1.getconnectioncount() == 0 and node0.getblockcount() == 0
