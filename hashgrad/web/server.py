"""The explorer's HTTP server (aiohttp): the page from `static/` and a read-only JSON API over a node.

    GET /                               the single-page explorer
    GET /static/<file>                  its script and style sheet (a fixed list, nothing else)
    GET /api/status                     height, best hash, supply, peers, mempool
    GET /api/blocks?from=H&count=N      block summaries from height H (default: tip) down, N <= 50
    GET /api/block/<hash-or-height>     one block, transactions decoded
    GET /api/tx/<txid>                  one transaction, mined or pending
    GET /api/account/<address>          balance, nonce, stake, registrations, latest transactions
    GET /api/jobs                       every job of the network (getjob)
    GET /api/metagraph/<job>            the job's uids; role/adversary from the live file when it knows them
    GET /api/epoch/<job>/<epoch>        an epoch's commitments, reveals and checkpoint (getepoch)
    GET /api/devnet                     the devnet's live progress file (epochs, losses, rewards)
    GET /api/search?q=TEXT              where a height, hash or address leads

Inputs are checked by `inputs.py` before the node is asked; errors are JSON `{"error": reason,
"detail": text}`: 400 bad input, 404 unknown object, 503 node unreachable, 502 bad node reply.
Node calls run in worker threads (`NodeGateway`), never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from importlib import resources
from pathlib import Path

from aiohttp import web

from hashgrad.chain.params import ChainParams
from hashgrad.errors import HashgradError, RpcError
from hashgrad.web import inputs, queries
from hashgrad.web.live import EMPTY_LIVE, read_live_file
from hashgrad.web.node_gateway import NodeGateway

STATIC_FILES = {"index.html": "text/html", "app.js": "application/javascript", "style.css": "text/css"}
NOT_FOUND_REASONS = ("not-found", "out-of-range")
UNAVAILABLE_REASONS = ("node-unreachable", "unauthorized")
NODE_INPUT_REASONS = ("invalid-parameter", "invalid-address", "bad-job")
SERVER_FAULT_REASONS = {"bad-live-file": 500, "network-mismatch": 502}
NODE_DOWN_DETAIL = "the node does not answer (is it running?)"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

log = logging.getLogger("hashgrad.explorer")


def compute_error_status(exc: HashgradError) -> int:
    """The HTTP status of an error: the client's fault (400/404), the node's (502/503) or ours (500)."""
    if exc.reason in SERVER_FAULT_REASONS:
        return SERVER_FAULT_REASONS[exc.reason]
    if not isinstance(exc, RpcError):
        return 400  # raised by inputs.py: the request was malformed
    if exc.reason in NOT_FOUND_REASONS:
        return 404
    if exc.reason in UNAVAILABLE_REASONS:
        return 503
    return 400 if exc.reason in NODE_INPUT_REASONS else 502


def json_error(status: int, reason: str, detail: str = "") -> web.Response:
    return web.json_response({"error": reason, "detail": detail}, status=status)


def load_static_files() -> dict[str, bytes]:
    folder = resources.files("hashgrad.web") / "static"
    return {name: (folder / name).read_bytes() for name in STATIC_FILES}


class ExplorerApp:
    def __init__(self, params: ChainParams, gateway: NodeGateway, live_path: Path | None):
        self.params = params
        self.gateway = gateway
        self.live_path = live_path
        self.static = load_static_files()

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self.error_middleware])
        app.router.add_get("/", self.handle_index)
        app.router.add_get("/static/{name}", self.handle_static)
        routes = {
            "/api/status": self.api_status,
            "/api/blocks": self.api_blocks,
            "/api/block/{ref}": self.api_block,
            "/api/tx/{txid}": self.api_tx,
            "/api/account/{address}": self.api_account,
            "/api/jobs": self.api_jobs,
            "/api/metagraph/{job}": self.api_metagraph,
            "/api/epoch/{job}/{epoch}": self.api_epoch,
            "/api/devnet": self.api_devnet,
            "/api/search": self.api_search,
        }
        for path, handler in routes.items():
            app.router.add_get(path, self.json_handler(handler))
        app.router.add_get("/api/{tail:.*}", self.handle_unknown_api)
        return app

    # ------------------------------------------------------------ plumbing
    @web.middleware
    async def error_middleware(self, request: web.Request, handler):
        try:
            response = await handler(request)
        except HashgradError as exc:
            status = compute_error_status(exc)
            detail = exc.detail
            if status == 503:  # the detail names local paths and ports: the log gets it, the browser does not
                log.warning("%s: %s", request.path, exc)
                detail = NODE_DOWN_DETAIL
            response = json_error(status, exc.reason, detail)
        except web.HTTPException as exc:
            if not request.path.startswith("/api/"):
                raise
            response = json_error(exc.status, "not-found" if exc.status == 404 else "bad-request", exc.reason)
        except Exception:  # a bug must not kill the server; logged with its traceback
            log.exception("%s failed", request.path)
            response = json_error(500, "internal-error")
        response.headers.update(SECURITY_HEADERS)
        return response

    @staticmethod
    def json_handler(handler):
        async def handle(request: web.Request) -> web.Response:
            result = await handler(request)
            return web.json_response(result, dumps=json.dumps, headers={"Cache-Control": "no-store"})

        return handle

    async def handle_index(self, request: web.Request) -> web.Response:
        return web.Response(body=self.static["index.html"], content_type="text/html", charset="utf-8")

    async def handle_static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC_FILES or name == "index.html":
            raise web.HTTPNotFound()
        return web.Response(body=self.static[name], content_type=STATIC_FILES[name], charset="utf-8")

    async def handle_unknown_api(self, request: web.Request) -> web.Response:
        return json_error(404, "not-found", "no such API endpoint")

    async def read_live(self) -> dict:
        try:
            return await asyncio.to_thread(read_live_file, self.live_path)
        except HashgradError as exc:
            log.warning("live file %s: %s", self.live_path, exc)
            raise

    # ------------------------------------------------------------ endpoints
    async def api_status(self, request):
        return await self.gateway.run(queries.get_status, self.params)

    async def api_blocks(self, request):
        start = request.query.get("from")
        start = None if start is None else inputs.parse_height(start, "from")
        count = inputs.parse_count(request.query.get("count"), 20)
        return await self.gateway.run(queries.get_recent_blocks, start, count)

    async def api_block(self, request):
        ref = inputs.parse_block_ref(request.match_info["ref"])
        return await self.gateway.run(queries.get_block, self.params, ref)

    async def api_tx(self, request):
        txid = inputs.parse_hash(request.match_info["txid"], "txid")
        return await self.gateway.run(queries.get_transaction, self.params, txid)

    async def api_account(self, request):
        address = inputs.parse_address(request.match_info["address"], self.params)
        return await self.gateway.run(queries.get_account, self.params, address)

    async def api_jobs(self, request):
        return await self.gateway.run(queries.get_jobs, self.params)

    async def api_metagraph(self, request):
        job_id = inputs.parse_job(request.match_info["job"], self.params)
        try:
            live = await self.read_live()
        except HashgradError:  # the metagraph is the node's; only the roles come from the file (logged)
            live = EMPTY_LIVE
        return await self.gateway.run(queries.get_metagraph, job_id, live)

    async def api_epoch(self, request):
        job_id = inputs.parse_job(request.match_info["job"], self.params)
        epoch = inputs.parse_epoch(request.match_info["epoch"])
        return await self.gateway.run(queries.get_epoch, job_id, epoch)

    async def api_devnet(self, request):
        return await self.read_live()

    async def api_search(self, request):
        kind, value = inputs.classify_query(request.query.get("q", ""), self.params)
        return await self.gateway.run(queries.search, kind, value)


async def serve_explorer(app: ExplorerApp, host: str, port: int, ready=print) -> None:
    """Serve until SIGTERM/SIGINT; `ready(url)` is told the address once it listens."""
    runner = web.AppRunner(app.build(), access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        ready(f"http://[{bound_host}]:{bound_port}/" if ":" in bound_host else f"http://{bound_host}:{bound_port}/")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        app.gateway.close()
