"""The miner's inference server: an OpenAI-compatible HTTP API on aiohttp.

    GET  /v1/models             the served model: id, checkpoint hash, context length, server hotkey
    POST /v1/completions        prompt → completion (also streamed as server-sent events)
    POST /v1/chat/completions   messages → completion (same engine, a plain-text template)
    GET  /health                liveness and the checkpoint hash

Requests to the POST routes must be signed by a hotkey (auth.py) unless the server runs open
(local use by people, e.g. with the `openai` client). Limits: body size (413), prompt length
(400 prompt-too-long), max_tokens (400 max-tokens-too-large), a per-client token bucket (429
rate-limited; per IP address as well, so fresh hotkeys do not bypass it) and a bounded queue of pending
generations (503 server-busy). Generation runs on
one worker thread, away from the event loop; the backend (an Engine, or a cheating one for tests)
can be swapped while running, when the chain records a new checkpoint.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import web

from hashgrad.errors import HashgradError, ProtocolError
from hashgrad.safejson import parse_json
from hashgrad.serve.auth import RequestVerifier
from hashgrad.serve.codec import BYTE_CODEC
from hashgrad.serve.engine import Engine
from hashgrad.serve.limits import RateLimiter
from hashgrad.serve.protocol import (
    KIND_CHAT,
    KIND_COMPLETION,
    CompletionRequest,
    ResponseMeta,
    build_chunk,
    build_error,
    build_models,
    build_response,
    build_usage,
    compute_model_id,
    parse_request,
)

log = logging.getLogger("hashgrad.serve")

STATUS_BY_REASON = {
    "unsigned-request": 401,
    "bad-request-signature": 401,
    "stale-request": 401,
    "replayed-request": 401,
    "wrong-target": 401,
    "not-allowed": 403,
    "model-not-found": 404,
    "body-too-large": 413,
    "rate-limited": 429,
    "server-busy": 503,
    "replay-cache-full": 503,
}


@dataclass(frozen=True)
class ServerConfig:
    open_access: bool = False  # serve unsigned requests (local users); signed otherwise
    max_body_bytes: int = 1 << 20
    max_prompt_tokens: int | None = None  # default: context - 1
    max_tokens_cap: int | None = None  # default: the context
    rate: float = 20.0  # requests per second per client (0 = no limit)
    burst: float = 40.0
    ip_factor: float = 2.0  # one IP address may send this many clients' worth (its keys share it)
    max_pending: int = 32  # generations queued or running
    window: int = 60  # signed requests: accepted clock difference, seconds
    hotkey: bytes | None = None  # this server's hotkey: signed requests must target it
    allowed: frozenset[bytes] | None = None  # hotkeys allowed to sign requests (None: any)


class InferenceServer:
    def __init__(self, backend: Engine, config: ServerConfig = ServerConfig(), clock=time.time):
        self.backend = backend
        self.config = config
        self.clock = clock
        self.verifier = RequestVerifier(config.window, config.hotkey, config.allowed)
        self.limiter = RateLimiter(config.rate, config.burst)
        self.ip_limiter = RateLimiter(config.rate * config.ip_factor, config.burst * config.ip_factor)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        self.pending = 0
        self.served_tokens = 0

    def set_backend(self, backend: Engine) -> None:
        """Serve another checkpoint from the next request on (requests in flight finish on the old one)."""
        self.backend = backend

    @property
    def model_id(self) -> str:
        return compute_model_id(self.backend.fingerprint)

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.router.add_get("/v1/models", self.on_models)
        app.router.add_get("/health", self.on_health)
        app.router.add_post("/v1/completions", self.on_completions)
        app.router.add_post("/v1/chat/completions", self.on_chat_completions)
        app.on_cleanup.append(self.on_cleanup)
        return app

    async def on_cleanup(self, _app) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ routes
    async def on_models(self, _request: web.Request) -> web.Response:
        backend = self.backend
        hotkey = self.config.hotkey.hex() if self.config.hotkey else None
        return web.json_response(build_models(self.model_id, backend.fingerprint.hex(), backend.context, hotkey))

    async def on_health(self, _request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "checkpoint": self.backend.fingerprint.hex(), "pending": self.pending})

    async def on_completions(self, request: web.Request) -> web.StreamResponse:
        return await self.on_generate(request, KIND_COMPLETION)

    async def on_chat_completions(self, request: web.Request) -> web.StreamResponse:
        return await self.on_generate(request, KIND_CHAT)

    async def on_generate(self, request: web.Request, kind: str) -> web.StreamResponse:
        try:
            backend = self.backend
            body = await self.read_body(request)
            self.check_access(request, body)
            parsed = self.parse(body, kind, backend)
            if self.pending >= self.config.max_pending:
                raise ProtocolError("server-busy", "too many requests in progress")
            meta = ResponseMeta(
                "cmpl-" + os.urandom(12).hex(),
                int(self.clock()),
                compute_model_id(backend.fingerprint),
                backend.fingerprint.hex(),
            )
        except HashgradError as exc:
            return error_response(exc)
        self.pending += 1
        try:
            if parsed.stream:
                return await self.stream(request, backend, parsed, meta)
            outs = await asyncio.get_running_loop().run_in_executor(self.executor, run_backend, backend, parsed)
            self.served_tokens += len(outs)
            return web.json_response(build_response(parsed, meta, outs))
        finally:
            self.pending -= 1

    # ------------------------------------------------------------------ steps
    async def read_body(self, request: web.Request) -> bytes:
        if (request.content_length or 0) > self.config.max_body_bytes:
            raise ProtocolError("body-too-large", f"more than {self.config.max_body_bytes} bytes")
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ProtocolError("body-too-large", f"more than {self.config.max_body_bytes} bytes") from None

    def check_access(self, request: web.Request, body: bytes) -> None:
        """Per-IP rate limit (before the costly signature check: fresh hotkeys do not buy fresh buckets),
        then the signature (unless open), then the per-hotkey rate limit."""
        now = self.clock()
        if not self.ip_limiter.is_allowed(f"ip:{request.remote}", now):
            raise ProtocolError("rate-limited", "too many requests from this address; slow down")
        if self.config.open_access:
            return
        client = "key:" + self.verifier.check(request.headers, request.method, request.path_qs, body, int(now)).hex()
        if not self.limiter.is_allowed(client, now):
            raise ProtocolError("rate-limited", "too many requests; slow down")

    def parse(self, body: bytes, kind: str, backend: Engine) -> CompletionRequest:
        decoded = parse_json(body, ProtocolError, "bad-json", self.config.max_body_bytes)
        context = backend.context
        parsed = parse_request(
            decoded,
            kind,
            context,
            self.config.max_tokens_cap or context,
            self.config.max_prompt_tokens or context - 1,
            int.from_bytes(os.urandom(8), "little") >> 1,
            getattr(backend, "codec", BYTE_CODEC),
        )
        if parsed.model not in (compute_model_id(backend.fingerprint), backend.fingerprint.hex()):
            raise ProtocolError("model-not-found", f"this server serves {compute_model_id(backend.fingerprint)}")
        return parsed

    async def stream(
        self, request: web.Request, backend: Engine, parsed: CompletionRequest, meta: ResponseMeta
    ) -> web.StreamResponse:
        """Server-sent events: one chunk per token, then usage (if asked) and [DONE]."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        producer = loop.run_in_executor(self.executor, produce_tokens, backend, parsed, loop, queue, stop)
        decoder = parsed.codec.new_stream()
        count, offset = 0, 0
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                count += 1
                last = count == parsed.max_tokens
                piece = decoder.push(item.token, final=last)
                await response.write(
                    encode_event(build_chunk(parsed, meta, [item], [piece], offset, "length" if last else None))
                )
                offset += len(piece)
            self.served_tokens += count
            if parsed.include_usage:
                await response.write(
                    encode_event(build_chunk(parsed, meta, [], [], offset, None, build_usage(parsed, count)))
                )
            await response.write(b"data: [DONE]\n\n")
        finally:
            stop.set()
            await producer
        return response


def run_backend(backend: Engine, parsed: CompletionRequest) -> list:
    return list(backend.serve(parsed.prompt, parsed.max_tokens, parsed.params, parsed.top_logprobs or 0))


def produce_tokens(
    backend: Engine, parsed: CompletionRequest, loop, queue: asyncio.Queue, stop: threading.Event
) -> None:
    """Worker thread: push each token to the event loop's queue; None at the end, or the error."""
    try:
        for out in backend.serve(parsed.prompt, parsed.max_tokens, parsed.params, parsed.top_logprobs or 0):
            if stop.is_set():
                break
            loop.call_soon_threadsafe(queue.put_nowait, out)
    except Exception as exc:  # handed to the event loop, which answers or logs it
        loop.call_soon_threadsafe(queue.put_nowait, exc)
    finally:
        loop.call_soon_threadsafe(queue.put_nowait, None)


def encode_event(obj: dict) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def error_response(exc: HashgradError) -> web.Response:
    status = STATUS_BY_REASON.get(exc.reason, 400)
    return web.json_response(build_error(exc.reason, exc.detail), status=status)


class BackgroundServer:
    """Runs an InferenceServer on its own event loop in a thread (tests, the benchmark, the gateway demo)."""

    def __init__(self, server: InferenceServer, host: str = "127.0.0.1", port: int = 0):
        self.server, self.host, self.port = server, host, port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="serve-loop")
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=30)
        return self

    async def _start(self) -> None:
        self.runner = web.AppRunner(self.server.build_app(), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()


async def serve_forever(server: InferenceServer, host: str, port: int, on_started=None) -> None:
    """Run until cancelled (the CLI's main coroutine)."""
    runner = web.AppRunner(server.build_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    if on_started is not None:
        on_started(runner.addresses[0][1])
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
