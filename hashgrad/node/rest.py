"""A read-only JSON REST view for explorers, on the RPC port without auth (bitcoind's `-rest`).

    GET /rest/chaininfo.json                     getblockchaininfo
    GET /rest/block/<hash>.json | .hex           getblock with decoded transactions, or raw hex
    GET /rest/blockhashbyheight/<height>.json    {"blockhash": ...}
    GET /rest/tx/<txid>.json                     gettransaction
    GET /rest/account/<address>.json             getaccount
    GET /rest/supply.json                        getsupply
    GET /rest/mempool/info.json                  getmempoolinfo

Each route reuses the RPC method of the same meaning, so both views validate and answer alike:
a malformed parameter is 400, something unknown is 404. It changes nothing, so it needs no cookie;
it is off unless `hashgrad node --rest` asks for it.
"""

from __future__ import annotations

from aiohttp import web

from hashgrad.errors import RpcError
from hashgrad.node import rpc_chain
from hashgrad.node.rpc_params import RPC_INVALID_ADDRESS_OR_KEY


def add_rest_routes(app: web.Application, node) -> None:
    def route(method, make_params, fmt: str = "json"):
        async def handle(request: web.Request) -> web.Response:
            if request.match_info.get("fmt", fmt) != fmt:
                raise web.HTTPNotFound(text="unknown format")
            try:
                params = make_params(request.match_info)
                result = await method(node, params)
            except RpcError as exc:
                status = 404 if exc.code == RPC_INVALID_ADDRESS_OR_KEY and exc.reason == "not-found" else 400
                return web.json_response({"error": exc.reason, "message": exc.detail}, status=status)
            if fmt == "hex":
                return web.Response(text=result + "\n", content_type="text/plain")
            return web.json_response(result)

        return handle

    none = lambda m: []  # noqa: E731 - tiny adapters from URL parts to RPC params
    app.router.add_get("/rest/chaininfo.json", route(rpc_chain.rpc_getblockchaininfo, none))
    app.router.add_get("/rest/supply.json", route(rpc_chain.rpc_getsupply, none))
    app.router.add_get("/rest/mempool/info.json", route(rpc_chain.rpc_getmempoolinfo, none))
    app.router.add_get("/rest/block/{hash}.json", route(rpc_chain.rpc_getblock, lambda m: [m["hash"], 2]))
    app.router.add_get("/rest/block/{hash}.hex", route(rpc_chain.rpc_getblock, lambda m: [m["hash"], 0], "hex"))
    app.router.add_get("/rest/blockhashbyheight/{height}.json", route(_blockhash_by_height, lambda m: [m["height"]]))
    app.router.add_get("/rest/tx/{txid}.json", route(rpc_chain.rpc_gettransaction, lambda m: [m["txid"]]))
    app.router.add_get("/rest/account/{address}.json", route(rpc_chain.rpc_getaccount, lambda m: [m["address"]]))


async def _blockhash_by_height(node, params):
    text = params[0]
    if not (text.isascii() and text.isdigit()) or len(text) > 10:  # "²".isdigit() is True, int("²") fails
        raise RpcError("invalid-parameter", f"invalid height {text[:20]!r}", -8)
    block_hash = node.ledger.chainstate.get_block_hash(int(text))
    if block_hash is None:
        raise RpcError("not-found", "Block height out of range", RPC_INVALID_ADDRESS_OR_KEY)
    return {"blockhash": block_hash[::-1].hex()}
