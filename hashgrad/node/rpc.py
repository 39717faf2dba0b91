"""The node's JSON-RPC server: bitcoind's protocol, auth and error codes, on aiohttp.

- HTTP POST `/` carrying JSON-RPC 1.0 or 2.0, a single call or a batch (a JSON array).
- HTTP Basic auth against the cookie file `DIR/.cookie` (`__cookie__:<64 hex>`, mode 0600), written
  at start and removed on a clean stop, exactly as bitcoind does; anything else gets 401.
- Bodies over MAX_BODY_SIZE get 413 before they are read whole.
- Errors: `{"code": <Bitcoin Core code>, "message": "<reason>: <detail>", "reason": "<reason>"}`;
  1.0-style calls get Core's legacy HTTP status (404 unknown method, 500 other errors), 2.0 calls 200.
- Methods are the `rpc_<name>` coroutines of `rpc_chain`, `rpc_mining`, `rpc_net`, `rpc_incentive`,
  `rpc_artifacts` and `rpc_auxpow` (plus `help`).
- Optionally the unauthenticated read-only REST view of `rest.py` on the same port.
"""
from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import os
import secrets
from pathlib import Path

from aiohttp import web

from hashgrad.errors import HashgradError, RpcError
from hashgrad.node import rpc_artifacts, rpc_auxpow, rpc_chain, rpc_incentive, rpc_mining, rpc_net
from hashgrad.node.rpc_client import COOKIE_FILE
from hashgrad.node.rpc_params import RPC_INVALID_PARAMS, check_param_count, get_param, parse_str

MAX_BODY_SIZE = 16 * 1024 * 1024  # room for an 8 MiB artifact in base64 (putartifact)
MAX_BATCH = 1000
COOKIE_USER = "__cookie__"
AUTH_FAILURE_DELAY_S = 0.25  # bitcoind's brake on password guessing
RPC_INVALID_REQUEST = -32600
RPC_METHOD_NOT_FOUND = -32601
RPC_PARSE_ERROR = -32700
RPC_MISC_ERROR = -1

log = logging.getLogger("hashgrad.rpc")


def collect_methods(*modules) -> dict:
    """name -> coroutine for every `rpc_<name>` function of the given modules."""
    return {name[4:]: fn for module in modules for name, fn in vars(module).items()
            if name.startswith("rpc_") and callable(fn)}


def write_cookie(datadir: Path) -> str:
    """Write a fresh `__cookie__:<hex>` to DIR/.cookie with mode 0600 (atomically); returns it."""
    cookie = f"{COOKIE_USER}:{secrets.token_hex(32)}"
    path = Path(datadir) / COOKIE_FILE
    tmp = path.with_name(COOKIE_FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(cookie)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return cookie


def remove_cookie(datadir: Path, cookie: str) -> None:
    path = Path(datadir) / COOKIE_FILE
    try:
        if path.read_text() == cookie:  # a newer node on the same datadir owns any other cookie
            path.unlink()
    except OSError:
        pass


def make_error(exc: RpcError) -> dict:
    message = f"{exc.reason}: {exc.detail}" if exc.detail else exc.reason
    return {"code": exc.code, "message": message, "reason": exc.reason}


class RpcServer:
    def __init__(self, node, host: str = "127.0.0.1", port: int = 0, rest: bool = False):
        self.node = node
        self.host = host
        self.port = port
        self.rest = rest
        self.methods = collect_methods(rpc_chain, rpc_mining, rpc_auxpow, rpc_net, rpc_incentive, rpc_artifacts)
        self.methods["help"] = self.rpc_help
        self.cookie: str | None = None
        self._expected_auth: bytes | None = None
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY_SIZE)
        app.router.add_post("/", self.handle_post)
        if self.rest:
            from hashgrad.node.rest import add_rest_routes

            add_rest_routes(app, self.node)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.cookie = write_cookie(self.node.datadir)
        self._expected_auth = b"Basic " + base64.b64encode(self.cookie.encode())
        log.info("RPC listening on %s:%d (cookie in %s)", self.host, self.port, self.node.datadir / COOKIE_FILE)

    async def stop(self) -> None:
        if self.cookie is not None:
            remove_cookie(self.node.datadir, self.cookie)
            self.cookie = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ HTTP
    def is_authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "").encode("latin-1", "replace")
        return self._expected_auth is not None and hmac.compare_digest(given, self._expected_auth)

    async def handle_post(self, request: web.Request) -> web.Response:
        if not self.is_authorized(request):
            log.warning("RPC request from %s refused: bad or missing credentials", request.remote)
            await asyncio.sleep(AUTH_FAILURE_DELAY_S)
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="jsonrpc"'})
        body = await request.read()  # aiohttp answers 413 past client_max_size
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            error = make_error(RpcError("parse-error", "Parse error", RPC_PARSE_ERROR))
            return web.json_response({"result": None, "error": error, "id": None}, status=500)
        if isinstance(payload, list):
            return await self.handle_batch(payload)
        reply, status = await self.execute(payload)
        return web.json_response(reply, status=status, dumps=_dumps)

    async def handle_batch(self, calls: list) -> web.Response:
        if len(calls) > MAX_BATCH:
            error = make_error(RpcError("invalid-request", f"batch over {MAX_BATCH} calls", RPC_INVALID_REQUEST))
            return web.json_response({"result": None, "error": error, "id": None}, status=400)
        replies = [(await self.execute(call))[0] for call in calls]
        return web.json_response(replies, dumps=_dumps)

    # ------------------------------------------------------------ JSON-RPC
    async def execute(self, call) -> tuple[dict, int]:
        """One call → (reply object, HTTP status for a single legacy call)."""
        if not isinstance(call, dict):
            return self.reply_error(None, False, RpcError("invalid-request", "Invalid Request object",
                                                          RPC_INVALID_REQUEST))
        call_id = call.get("id")
        is_v2 = call.get("jsonrpc") == "2.0"
        try:
            method, params = self.check_call(call)
            log.debug("RPC %s %s", method, json.dumps(params)[:200])
            result = await self.methods[method](self.node, params)
        except RpcError as exc:
            return self.reply_error(call_id, is_v2, exc)
        except HashgradError as exc:
            return self.reply_error(call_id, is_v2, RpcError(exc.reason, exc.detail, RPC_MISC_ERROR))
        except Exception as exc:  # a bug must not kill the server; it is logged with its traceback
            log.exception("RPC %s failed", call.get("method"))
            return self.reply_error(call_id, is_v2, RpcError("internal-error", type(exc).__name__, RPC_MISC_ERROR))
        if is_v2:
            return {"jsonrpc": "2.0", "result": result, "id": call_id}, 200
        return {"result": result, "error": None, "id": call_id}, 200

    def check_call(self, call: dict) -> tuple[str, list]:
        method = call.get("method")
        if not isinstance(method, str):
            raise RpcError("invalid-request", "Method must be a string", RPC_INVALID_REQUEST)
        params = call.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list):
            raise RpcError("invalid-params", "Params must be an array (named parameters are not supported)",
                           RPC_INVALID_PARAMS)
        if method not in self.methods:
            raise RpcError("method-not-found", "Method not found", RPC_METHOD_NOT_FOUND)
        return method, params

    @staticmethod
    def reply_error(call_id, is_v2: bool, exc: RpcError) -> tuple[dict, int]:
        error = make_error(exc)
        if is_v2:
            return {"jsonrpc": "2.0", "error": error, "id": call_id}, 200
        status = {RPC_INVALID_REQUEST: 400, RPC_METHOD_NOT_FOUND: 404}.get(exc.code, 500)
        return {"result": None, "error": error, "id": call_id}, status

    async def rpc_help(self, node, params):
        """help [COMMAND]: list the methods, or describe one."""
        check_param_count(params, 0, 1)
        name = get_param(params, 0)
        if name is None:
            return "\n".join(f"{n}: {_summary(fn)}" for n, fn in sorted(self.methods.items()))
        name = parse_str(name, "command", 64)
        if name not in self.methods:
            return f"help: unknown command: {name}"
        return (self.methods[name].__doc__ or name).strip()


def _summary(fn) -> str:
    doc = (fn.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))
