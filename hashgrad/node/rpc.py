"""The node's JSON-RPC server: bitcoind's HTTP and JSON-RPC protocol (Core 28), auth and error codes, on aiohttp.

- HTTP POST `/` carrying a single call or a batch (a JSON array); other methods on `/` get 405.
  Replies carry exactly `Content-Type: application/json` and end with a newline, as bitcoind's.
- Versions as Core's `JSONRPCRequest::parse`: `"jsonrpc": "2.0"` gets 2.0 replies (`jsonrpc`, then
  `result` or `error`, never both; always HTTP 200; a 2.0 call without `id` is a notification:
  run, answered 204 No Content); anything else is legacy 1.0 (`result`, `error` and `id`; a failed
  call gets Core's HTTP status: 400 for -32600, 404 for -32601, 500 otherwise). Batch items are
  answered in order with HTTP 200 (204 when every item was a notification). Unparsable JSON: -32700, 500.
- Auth (`rpc_auth.py`): the cookie `DIR/.cookie` (mode 0600, removed on a clean stop; not written
  when `--rpcpassword` is set), `--rpcuser/--rpcpassword`, `--rpcauth` lines; anything else 401.
- Bodies over MAX_BODY_SIZE get 413 before they are read whole. HTTP/1.1 keep-alive.
- Errors: `{"code": <Bitcoin Core code>, "message": "<reason>: <detail>", "reason": "<reason>"}`
  (`reason` is hashgrad's kebab-case code, an extra member Core's clients ignore).
- Parameters by position (an array) or by name (an object, placed as Core does: `rpc_named.py`).
- Methods are the `rpc_<name>` coroutines of METHOD_MODULES (plus `help` and `getrpcinfo`).
- Optionally the unauthenticated read-only REST view of `rest.py` on the same port.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from hashgrad.errors import HashgradError, RpcError
from hashgrad.node import rpc_artifacts, rpc_auxpow, rpc_blockchain, rpc_chain, rpc_incentive, rpc_mining, rpc_net
from hashgrad.node.rest import add_rest_routes
from hashgrad.node.rpc_auth import RpcCredentials
from hashgrad.node.rpc_client import COOKIE_FILE
from hashgrad.node.rpc_named import compute_positional
from hashgrad.node.rpc_params import check_param_count, get_param, parse_str
from hashgrad.safejson import parse_json

MAX_BODY_SIZE = 16 * 1024 * 1024  # room for an 8 MiB artifact in base64 (putartifact)
MAX_BATCH = 1000
COOKIE_USER = "__cookie__"
AUTH_FAILURE_DELAY_S = 0.25  # bitcoind's brake on password guessing
RPC_INVALID_REQUEST = -32600
RPC_METHOD_NOT_FOUND = -32601
RPC_PARSE_ERROR = -32700
RPC_MISC_ERROR = -1
WWW_AUTHENTICATE = 'Basic realm="jsonrpc"'
METHOD_MODULES = (rpc_chain, rpc_blockchain, rpc_mining, rpc_auxpow, rpc_net, rpc_incentive, rpc_artifacts)

log = logging.getLogger("hashgrad.rpc")


def collect_methods(*modules) -> dict:
    """name -> coroutine for every `rpc_<name>` function of the given modules."""
    return {
        name[4:]: fn
        for module in modules
        for name, fn in vars(module).items()
        if name.startswith("rpc_") and callable(fn)
    }


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


@dataclass
class Call:
    """One request object, parsed by Bitcoin Core's rules (`JSONRPCRequest::parse`)."""

    method: str | None = None
    params: list = field(default_factory=list)
    id: object = None
    has_id: bool = False
    is_v2: bool = False
    named: dict | None = None  # named parameters, placed by the method's argument names when it runs
    error: RpcError | None = None  # a request that could not be parsed: answered with this error

    @property
    def is_notification(self) -> bool:
        return self.is_v2 and not self.has_id


def parse_call(request) -> Call:
    """`jsonrpc` "2.0" → 2.0; absent or "1.0" → legacy; the id is read first so errors carry it."""
    call = Call()
    if not isinstance(request, dict):
        call.has_id = True  # Core answers a non-object batch item with "id": null
        call.error = RpcError("invalid-request", "Invalid Request object", RPC_INVALID_REQUEST)
        return call
    call.has_id = "id" in request
    call.id = request.get("id")
    version = request.get("jsonrpc")
    if version is not None:
        if not isinstance(version, str):
            call.error = RpcError("invalid-request", "jsonrpc field must be a string", RPC_INVALID_REQUEST)
            return call
        if version not in ("1.0", "2.0"):
            call.error = RpcError("invalid-request", "JSON-RPC version not supported", RPC_INVALID_REQUEST)
            return call
        call.is_v2 = version == "2.0"
    method = request.get("method")
    if method is None:
        call.error = RpcError("invalid-request", "Missing method", RPC_INVALID_REQUEST)
    elif not isinstance(method, str):
        call.error = RpcError("invalid-request", "Method must be a string", RPC_INVALID_REQUEST)
    call.method = method if isinstance(method, str) else None
    params = request.get("params")
    if params is None:
        params = []
    if isinstance(params, dict):
        call.named = params
    elif not isinstance(params, list):
        call.error = call.error or RpcError("invalid-request", "Params must be an array or object", RPC_INVALID_REQUEST)
    call.params = params if isinstance(params, list) else []
    return call


def build_reply(result, error: RpcError | None, call_id, is_v2: bool, has_id: bool = True) -> dict:
    """Core's JSONRPCReplyObj: 2.0 adds "jsonrpc" and omits the unused member; 1.0 has both."""
    reply: dict = {"jsonrpc": "2.0"} if is_v2 else {}
    if error is None:
        reply["result"] = result
        if not is_v2:
            reply["error"] = None
    else:
        if not is_v2:
            reply["result"] = None
        reply["error"] = make_error(error)
    if has_id:
        reply["id"] = call_id
    return reply


def legacy_http_status(code: int) -> int:
    """The HTTP status of a failed 1.0 call, as Core's JSONErrorReply: 400, 404 or 500."""
    return {RPC_INVALID_REQUEST: 400, RPC_METHOD_NOT_FOUND: 404}.get(code, 500)


def json_reply(body, status: int) -> web.Response:
    """Exactly `Content-Type: application/json` (no charset: python-bitcoinrpc compares it literally)."""
    data = (json.dumps(body, separators=(",", ":")) + "\n").encode()
    return web.Response(body=data, status=status, headers={"Content-Type": "application/json"})


class RpcServer:
    def __init__(
        self,
        node,
        host: str = "127.0.0.1",
        port: int = 0,
        rest: bool = False,
        credentials: RpcCredentials | None = None,
    ):
        self.node = node
        self.host = host
        self.port = port
        self.rest = rest
        self.methods = collect_methods(*METHOD_MODULES)
        self.methods["help"] = self.rpc_help
        self.methods["getrpcinfo"] = self.rpc_getrpcinfo
        self.active: dict[int, tuple[str, float]] = {}  # running calls, for getrpcinfo
        self._next_call = 0
        self.credentials = credentials or RpcCredentials()
        self.cookie: str | None = None
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY_SIZE)
        app.router.add_post("/", self.handle_post)
        app.router.add_get("/", self.handle_not_post)
        if self.rest:
            add_rest_routes(app, self.node)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if self.credentials.password is None:  # as bitcoind: no cookie when -rpcpassword is set
            self.cookie = write_cookie(self.node.datadir)
            self.credentials.cookie = self.cookie
        log.info(
            "RPC listening on %s:%d (%s)",
            self.host,
            self.port,
            f"cookie in {self.node.datadir / COOKIE_FILE}" if self.cookie else "rpcuser/rpcpassword",
        )

    async def stop(self) -> None:
        if self.cookie is not None:
            remove_cookie(self.node.datadir, self.cookie)
            self.cookie = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ HTTP
    def is_authorized(self, request: web.Request) -> bool:
        return self.credentials.is_authorized(request.headers.get("Authorization"))

    async def handle_not_post(self, request: web.Request) -> web.Response:
        return web.Response(status=405, text="JSONRPC server handles only POST requests")

    async def handle_post(self, request: web.Request) -> web.Response:
        if not self.is_authorized(request):
            log.warning("RPC request from %s refused: bad or missing credentials", request.remote)
            if "Authorization" in request.headers:
                await asyncio.sleep(AUTH_FAILURE_DELAY_S)
            return web.Response(status=401, headers={"WWW-Authenticate": WWW_AUTHENTICATE})
        body = await request.read()  # aiohttp answers 413 past client_max_size
        try:  # bounded depth: a deeply nested body is a parse error, not a RecursionError
            payload = parse_json(body, RpcError, "parse-error", max_bytes=MAX_BODY_SIZE)
        except RpcError:
            return json_reply(
                build_reply(None, RpcError("parse-error", "Parse error", RPC_PARSE_ERROR), None, False), 500
            )
        if isinstance(payload, list):
            return await self.handle_batch(payload)
        if not isinstance(payload, dict):
            error = RpcError("parse-error", "Top-level object parse error", RPC_PARSE_ERROR)
            return json_reply(build_reply(None, error, None, False), 500)
        call = parse_call(payload)
        reply = await self.execute(call)
        if call.is_notification:  # executed, never answered (JSON-RPC 2.0)
            return web.Response(status=204)
        if call.is_v2 or reply.get("error") is None:
            return json_reply(reply, 200)
        return json_reply(reply, legacy_http_status(reply["error"]["code"]))

    async def handle_batch(self, payload: list) -> web.Response:
        if len(payload) > MAX_BATCH:
            error = RpcError("invalid-request", f"batch over {MAX_BATCH} calls", RPC_INVALID_REQUEST)
            return json_reply(build_reply(None, error, None, False), 400)
        replies = []
        for item in payload:
            call = parse_call(item)
            reply = await self.execute(call)
            if not call.is_notification:
                replies.append(reply)
        if not replies and payload:  # a batch of notifications only
            return web.Response(status=204)
        return json_reply(replies, 200)

    # ------------------------------------------------------------ JSON-RPC
    async def execute(self, call: Call) -> dict:
        """Run one parsed call; its reply object (Core's 1.0 or 2.0 form)."""
        if call.error is not None:
            return build_reply(None, call.error, call.id, call.is_v2, call.has_id)
        method = call.method
        if method is None or method not in self.methods:
            return build_reply(
                None,
                RpcError("method-not-found", "Method not found", RPC_METHOD_NOT_FOUND),
                call.id,
                call.is_v2,
                call.has_id,
            )
        self._next_call += 1
        key = self._next_call
        self.active[key] = (method, time.monotonic())
        try:
            if call.named is not None:
                call.params = compute_positional(method, self.methods[method], call.named)
            log.debug("RPC %s %s", method, json.dumps(call.params)[:200])
            result = await self.methods[method](self.node, call.params)
        except RpcError as exc:
            return build_reply(None, exc, call.id, call.is_v2, call.has_id)
        except HashgradError as exc:
            return build_reply(None, RpcError(exc.reason, exc.detail, RPC_MISC_ERROR), call.id, call.is_v2, call.has_id)
        except Exception as exc:  # a bug must not kill the server; it is logged with its traceback
            log.exception("RPC %s failed", method)
            return build_reply(
                None, RpcError("internal-error", type(exc).__name__, RPC_MISC_ERROR), call.id, call.is_v2, call.has_id
            )
        finally:
            del self.active[key]
        return build_reply(result, None, call.id, call.is_v2, call.has_id)

    async def rpc_getrpcinfo(self, node, params):
        """getrpcinfo: the calls running now ({method, duration in microseconds}) and the log file."""
        check_param_count(params, 0, 0)
        now = time.monotonic()
        return {
            "active_commands": [
                {"method": method, "duration": int((now - started) * 1_000_000)}
                for method, started in self.active.values()
            ],
            "logpath": str(self.node.datadir / "node.log"),
        }

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
