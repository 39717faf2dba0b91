"""The transport of the node client: a small blocking JSON-RPC client, the way bitcoin-cli talks to bitcoind.

Hashgrad code never builds one itself: `hashgrad.node.client.connect_node` makes it and wraps it in
the typed `NodeClient` (whose `call` is the raw method `hashgrad rpc` uses). Standard library only
(http.client): one HTTP POST per call on a kept-alive connection, Basic auth from the node's cookie
file (`DIR/.cookie`, `__cookie__:<hex>`); a client made by `from_cookie_file`/`from_datadir` re-reads
the cookie once when refused (the node restarted with a new one).
An RPC error comes back as `RpcError(reason, detail, code)` with the node's reason code; a node that
cannot be reached (refused, timed out, cookie missing) as `RpcError("node-unreachable", ...)`.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from itertools import count
from pathlib import Path
from urllib.parse import urlsplit

from hashgrad.errors import RpcError

COOKIE_FILE = ".cookie"
MAX_COOKIE_SIZE = 1024
MAX_RESPONSE_SIZE = 64 * 1024 * 1024
DEFAULT_TIMEOUT_S = 120.0  # generous: getartifact may wait on peers, generatetoaddress on many blocks
RPC_UNREACHABLE_CODE = -28  # Bitcoin Core's RPC_IN_WARMUP is the nearest; only used client-side


def read_cookie(datadir: Path | str) -> tuple[str, str]:
    """(user, password) from `DIR/.cookie`; RpcError("node-unreachable") when it is absent or malformed."""
    return read_cookie_file(Path(datadir) / COOKIE_FILE)


def read_cookie_file(path: Path | str) -> tuple[str, str]:
    """(user, password) from a cookie file of any name (`user:password`, at most MAX_COOKIE_SIZE bytes)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")[:MAX_COOKIE_SIZE].strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise RpcError(
            "node-unreachable", f"cannot read cookie {path}: {exc} (is the node running?)", RPC_UNREACHABLE_CODE
        ) from None
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise RpcError("node-unreachable", f"malformed cookie file {path}", RPC_UNREACHABLE_CODE)
    return user, password


class RpcClient:
    """Calls methods on one node: `RpcClient(url, user, password).call("getblockcount")`."""

    def __init__(
        self, url: str, user: str | None = None, password: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
    ):
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise RpcError("invalid-url", f"expected http://HOST:PORT, got {url!r}", -8)
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = parts.path or "/"
        self.timeout = timeout
        self._auth = None
        self._cookie_file: Path | None = None  # set by from_cookie_file: a restarted node's new cookie is re-read
        if user is not None:
            self.set_credentials(user, password or "")
        self._ids = count(1)
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()  # one request at a time on the kept-alive connection

    def set_credentials(self, user: str, password: str) -> None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._auth = f"Basic {token}"

    @classmethod
    def from_datadir(
        cls, datadir: Path | str, port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT_S
    ) -> RpcClient:
        return cls.from_cookie_file(Path(datadir) / COOKIE_FILE, port, host, timeout)

    @classmethod
    def from_cookie_file(
        cls, path: Path | str, port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT_S
    ) -> RpcClient:
        user, password = read_cookie_file(path)
        client = cls(f"http://{host}:{port}/", user, password, timeout)
        client._cookie_file = Path(path)
        return client

    def call(self, method: str, *params):
        """Run one method and return its result; raise RpcError for an error reply or no node."""
        request_id = next(self._ids)
        reply = self.post({"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)})
        if not isinstance(reply, dict):
            raise RpcError("bad-response", f"expected a JSON object, got {type(reply).__name__}")
        return unwrap_reply(reply)

    def batch(self, calls: list[tuple]) -> list:
        """Run [(method, *params), ...] in one request; results in order, errors as RpcError objects."""
        body = [{"jsonrpc": "2.0", "id": i, "method": c[0], "params": list(c[1:])} for i, c in enumerate(calls)]
        replies = self.post(body)
        if not isinstance(replies, list):
            return [unwrap_reply_or_error(replies)] * len(calls)
        by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
        return [unwrap_reply_or_error(by_id.get(i, {})) for i in range(len(calls))]

    def post(self, body) -> object:
        """POST one JSON body on the kept-alive connection; the decoded JSON reply (an error body included)."""
        data = json.dumps(body).encode()
        with self._lock:
            status, raw = self._exchange(data, self._make_headers(data))
            if status == 401 and self._cookie_file is not None and self._reload_cookie():
                status, raw = self._exchange(data, self._make_headers(data))  # the node restarted: new cookie
        return decode_http_reply(status, raw)

    def _make_headers(self, data: bytes) -> dict:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        if self._auth:
            headers["Authorization"] = self._auth
        return headers

    def _reload_cookie(self) -> bool:
        """Re-read the cookie file; True when it holds credentials other than those just refused."""
        previous = self._auth
        try:
            self.set_credentials(*read_cookie_file(self._cookie_file))
        except RpcError:
            return False
        return self._auth != previous

    def _exchange(self, data: bytes, headers: dict) -> tuple[int, bytes]:
        reused = self._conn is not None
        try:
            return self._send(data, headers)
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            self.close()
            if not reused:  # a kept-alive connection the server closed while idle: try once on a new one
                raise RpcError(
                    "node-unreachable", f"{self.host}:{self.port}: connection closed", RPC_UNREACHABLE_CODE
                ) from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise RpcError("node-unreachable", f"{self.host}:{self.port}: {exc}", RPC_UNREACHABLE_CODE) from None
        try:
            return self._send(data, headers)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise RpcError("node-unreachable", f"{self.host}:{self.port}: {exc}", RPC_UNREACHABLE_CODE) from None

    def _send(self, data: bytes, headers: dict) -> tuple[int, bytes]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self._conn.request("POST", self.path, body=data, headers=headers)
        response = self._conn.getresponse()
        raw = response.read(MAX_RESPONSE_SIZE + 1)
        if response.will_close:
            self.close()
        return response.status, raw

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def decode_http_reply(status: int, raw: bytes) -> object:
    if status == 401:
        raise RpcError("unauthorized", "the node refused the credentials (wrong or stale cookie?)", -1)
    if len(raw) > MAX_RESPONSE_SIZE:
        raise RpcError("bad-response", "reply larger than the client's limit")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RpcError("bad-response", f"HTTP {status}: {raw[:200]!r}") from None


def unwrap_reply(reply: dict):
    error = reply.get("error")
    if error:
        if not isinstance(error, dict):
            raise RpcError("bad-response", f"malformed error {error!r}")
        message = str(error.get("message", ""))
        reason = str(error.get("reason") or "rpc-error")
        detail = message[len(reason) + 2 :] if message.startswith(reason + ": ") else message
        if message == reason:
            detail = ""
        raise RpcError(reason, detail, int(error.get("code", -1)))
    if "result" not in reply:
        raise RpcError("bad-response", "reply has neither result nor error")
    return reply["result"]


def unwrap_reply_or_error(reply: dict):
    try:
        return unwrap_reply(reply)
    except RpcError as exc:
        return exc
