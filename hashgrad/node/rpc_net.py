"""JSON-RPC methods about peers and the node itself: getpeerinfo, addnode, disconnectnode, stop, uptime...

They delegate to the node's PeerManager (`node.peers`) and to the node's own list of added peers,
which the node keeps connected (Bitcoin Core's `addnode add`).
"""

from __future__ import annotations

import time

from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.rpc_params import (
    RPC_INVALID_PARAMETER,
    check_param_count,
    get_param,
    parse_bool,
    parse_host_port,
    parse_int,
    parse_str,
)

RPC_CLIENT_NODE_ALREADY_ADDED = -23
RPC_CLIENT_NODE_NOT_ADDED = -24
RPC_CLIENT_NODE_NOT_CONNECTED = -29
RPC_CLIENT_P2P_DISABLED = -9


def _require_peers(node):
    if node.peers is None:
        raise RpcError("p2p-disabled", "Error: Peer-to-peer functionality missing or disabled", RPC_CLIENT_P2P_DISABLED)
    return node.peers


async def rpc_getpeerinfo(node, params):
    """getpeerinfo: one object per connected peer (id, addr, inbound, version, subver, heights, traffic)."""
    check_param_count(params, 0, 0)
    return _require_peers(node).get_peer_info()


async def rpc_getconnectioncount(node, params):
    """getconnectioncount: number of connected peers."""
    check_param_count(params, 0, 0)
    return _require_peers(node).connection_count()


async def rpc_getnetworkinfo(node, params):
    """getnetworkinfo: user agent, protocol version, connection count, whether networking is active."""
    check_param_count(params, 0, 0)
    peers = _require_peers(node)
    inbound = sum(1 for info in peers.get_peer_info() if info.get("inbound"))
    connections = peers.connection_count()
    return {
        "version": getattr(peers, "protocol_version", None),
        "subversion": node.user_agent,
        "protocolversion": getattr(peers, "protocol_version", None),
        "localrelay": True,
        "timeoffset": 0,
        "connections": connections,
        "connections_in": inbound,
        "connections_out": connections - inbound,
        "networkactive": node.network_active,
        "localport": node.p2p_port,
        "relayfee": node.ledger.mempool.min_fee_rate,
        "warnings": "",
    }


async def rpc_addnode(node, params):
    """addnode HOST:PORT add|remove|onetry: keep a peer connected, forget it, or try it once."""
    check_param_count(params, 2, 2)
    host, port = parse_host_port(params[0], "node", node.params.p2p_port)
    command = parse_str(params[1], "command", 16)
    if command not in ("add", "remove", "onetry"):
        raise RpcError("invalid-parameter", "command must be add, remove or onetry", RPC_INVALID_PARAMETER)
    peers = _require_peers(node)
    if command == "add":
        if (host, port) in node.added_nodes:
            raise RpcError("node-already-added", "Error: Node already added", RPC_CLIENT_NODE_ALREADY_ADDED)
        node.added_nodes.add((host, port))
        node.wake_connector()
    elif command == "remove":
        if (host, port) not in node.added_nodes:
            raise RpcError(
                "node-not-added",
                "Error: Node could not be removed. It has not been added previously.",
                RPC_CLIENT_NODE_NOT_ADDED,
            )
        node.added_nodes.discard((host, port))
    else:
        try:
            await peers.connect(host, port)
        except (HashgradError, OSError) as exc:
            node.log.info("addnode onetry %s:%d failed: %s", host, port, exc)
    return None


async def rpc_getaddednodeinfo(node, params):
    """getaddednodeinfo: the peers kept connected (--connect, addnode add) and whether each is connected."""
    check_param_count(params, 0, 1)
    connected = {info["addr"] for info in _require_peers(node).get_peer_info() if not info["inbound"]}
    return [
        {"addednode": f"{host}:{port}", "connected": f"{host}:{port}" in connected}
        for host, port in sorted(node.added_nodes)
    ]


async def rpc_disconnectnode(node, params):
    """disconnectnode ["HOST:PORT"] [NODEID]: drop a connected peer by address or by id."""
    check_param_count(params, 1, 2)
    address = get_param(params, 0, "")
    node_id = get_param(params, 1)
    if node_id is not None and address:
        raise RpcError("invalid-parameter", "Only one of address and nodeid should be provided.", RPC_INVALID_PARAMETER)
    if node_id is not None:
        target = parse_int(node_id, "nodeid", 0)
    else:
        host, port = parse_host_port(address, "address", node.params.p2p_port)
        target = f"{host}:{port}"
    if not await _require_peers(node).disconnect(target):
        raise RpcError("node-not-connected", "Node not found in connected nodes", RPC_CLIENT_NODE_NOT_CONNECTED)
    return None


async def rpc_setnetworkactive(node, params):
    """setnetworkactive STATE: turn all peer-to-peer activity off (dropping peers) or back on."""
    check_param_count(params, 1, 1)
    state = parse_bool(params[0], "state")
    node.network_active = state
    _require_peers(node).set_network_active(state)
    if state:
        node.wake_connector()
    return state


async def rpc_listbanned(node, params):
    """listbanned: the banned peer addresses."""
    check_param_count(params, 0, 0)
    return _require_peers(node).list_banned()


async def rpc_getnettotals(node, params):
    """getnettotals: bytes received and sent over P2P since start, and the time in milliseconds."""
    check_param_count(params, 0, 0)
    received, sent = _require_peers(node).get_net_totals()
    return {
        "totalbytesrecv": received,
        "totalbytessent": sent,
        "timemillis": int(time.time() * 1000),
        "uploadtarget": {
            "timeframe": 86400,
            "target": 0,
            "target_reached": False,
            "serve_historical_blocks": True,
            "bytes_left_in_cycle": 0,
            "time_left_in_cycle": 0,
        },
    }


async def rpc_getzmqnotifications(node, params):
    """getzmqnotifications: the active ZMQ publishers [{type: "pubhashblock", address, hwm}, ...]."""
    check_param_count(params, 0, 0)
    zmq = node.notifier.zmq if node.notifier is not None else None
    return zmq.describe() if zmq is not None else []


async def rpc_uptime(node, params):
    """uptime: seconds since the node started."""
    check_param_count(params, 0, 0)
    return int(time.monotonic() - node.started_at)


async def rpc_stop(node, params):
    """stop: shut the node down cleanly (peers, RPC, ledger) after answering."""
    check_param_count(params, 0, 1)
    node.request_stop()
    return "hashgrad stopping"


async def rpc_setban(node, params):
    """setban HOST add|remove [BANTIME_S=86400]: ban a host (dropping its connections) or lift a ban."""
    check_param_count(params, 2, 3)
    host = parse_str(params[0], "host", 100).strip()
    command = parse_str(params[1], "command", 16)
    peers = _require_peers(node)
    if command == "add":
        if peers.is_banned(host):
            raise RpcError("already-banned", "Error: IP/Subnet already banned", RPC_CLIENT_NODE_ALREADY_ADDED)
        peers.ban(host, parse_int(get_param(params, 2, 24 * 60 * 60), "bantime", 1, 10 * 365 * 24 * 3600))
    elif command == "remove":
        if not peers.unban(host):
            raise RpcError(
                "not-banned",
                "Error: Unban failed. Requested address/subnet was not previously manually banned.",
                RPC_CLIENT_NODE_NOT_ADDED,
            )
    else:
        raise RpcError("invalid-parameter", "command must be add or remove", RPC_INVALID_PARAMETER)
    return None


async def rpc_clearbanned(node, params):
    """clearbanned: lift every ban."""
    check_param_count(params, 0, 0)
    _require_peers(node).clear_banned()
    return None
