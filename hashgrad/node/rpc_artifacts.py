"""JSON-RPC methods of the node's content-addressed artifact store (pseudo-gradients, checkpoints).

`putartifact` stores bytes under their sha256; `getartifact` returns them, fetching from peers over
the P2P artifact messages when the node does not hold them (every byte is hash-checked on arrival
and on every read). Data travels base64-encoded inside JSON. `announceround` and
`listroundartifacts` carry the signed round announcements of training miners (p2p/rounds.py).
"""

from __future__ import annotations

import base64
import binascii

from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.rpc_params import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    check_param_count,
    get_param,
    parse_bool,
    parse_hash,
    parse_hex,
    parse_int,
)
from hashgrad.p2p.rounds import ANNOUNCEMENT_LAYOUT, MAX_ROUND, RoundAnnouncement

MAX_ARTIFACT_BYTES = 8 * 1024 * 1024


def _parse_artifact_id(value) -> bytes:
    # artifact ids are plain sha256 digests, written in natural (not reversed) byte order
    return parse_hash(value, "artifact_id")[::-1]


async def rpc_putartifact(node, params):
    """putartifact BASE64: store a blob (at most 8 MiB); returns {"artifact_id", "size"}."""
    check_param_count(params, 1, 1)
    text = get_param(params, 0)
    if not isinstance(text, str) or len(text) > MAX_ARTIFACT_BYTES * 4 // 3 + 8:
        raise RpcError("artifact-too-large", "base64 data over the 8 MiB limit", RPC_INVALID_PARAMETER)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RpcError("bad-base64", "data is not base64", RPC_INVALID_PARAMETER) from None
    try:
        artifact_id = await node.run_blocking(node.artifacts.put, data)
    except HashgradError as exc:
        raise RpcError(exc.reason, exc.detail, RPC_INVALID_PARAMETER) from None
    return {"artifact_id": artifact_id.hex(), "size": len(data)}


async def rpc_getartifact(node, params):
    """getartifact ID [FETCH=true]: the blob as base64, fetched from peers if this node lacks it."""
    check_param_count(params, 1, 2)
    artifact_id = _parse_artifact_id(get_param(params, 0))
    fetch = parse_bool(get_param(params, 1, True), "fetch")
    data = await get_artifact(node, artifact_id, fetch)
    return {"artifact_id": artifact_id.hex(), "size": len(data), "data": base64.b64encode(data).decode()}


async def rpc_hasartifact(node, params):
    """hasartifact ID: whether this node holds the blob."""
    check_param_count(params, 1, 1)
    return await node.run_blocking(node.artifacts.has, _parse_artifact_id(get_param(params, 0)))


async def get_artifact(node, artifact_id: bytes, fetch: bool) -> bytes:
    if await node.run_blocking(node.artifacts.has, artifact_id):
        return await node.run_blocking(node.artifacts.get, artifact_id)
    data = None
    if fetch and node.peers is not None:
        data = await node.peers.fetch_artifact(artifact_id, MAX_ARTIFACT_BYTES)
    if data is None:
        raise RpcError("artifact-not-found", artifact_id.hex(), RPC_INVALID_ADDRESS_OR_KEY)
    await node.run_blocking(node.artifacts.put, data)
    return data


# ---------------------------------------------------------------- round announcements (p2p/rounds.py)
async def rpc_announceround(node, params):
    """announceround HEX: a signed round announcement (136 bytes, p2p/rounds.py), stored and relayed;
    returns {"new": whether this node did not hold it}."""
    check_param_count(params, 1, 1)
    data = parse_hex(get_param(params, 0), "announcement", 2 * ANNOUNCEMENT_LAYOUT.size)
    try:
        ann = RoundAnnouncement.deserialize(data)
        return {"new": node.peers.rounds.announce(ann) if node.peers is not None else False}
    except HashgradError as exc:
        raise RpcError(exc.reason, exc.detail, RPC_INVALID_PARAMETER) from None


async def rpc_listroundartifacts(node, params):
    """listroundartifacts JOB EPOCH [ROUND]: the round announcements this node holds for a job's epoch
    (one round, or all), each {job, epoch, round, hotkey, artifact_id, signature}."""
    check_param_count(params, 2, 3)
    job = parse_int(get_param(params, 0), "job", 0, 0xFFFF)
    epoch = parse_int(get_param(params, 1), "epoch", 0, 0xFFFFFFFF)
    round_param = get_param(params, 2)
    round_index = None if round_param is None else parse_int(round_param, "round", 0, MAX_ROUND)
    if node.peers is None:
        return []
    return [ann.to_json() for ann in node.peers.rounds.index.get(job, epoch, round_index)]
