"""The explorer's way to its node: blocking `NodeClient` calls run on a small thread pool, off the event loop.

Each worker thread keeps its own `NodeClient` (a client serializes its calls on one kept-alive
connection), made by the `connect` factory it is given (`hashgrad.node.client.connect_node`, reading
the cookie in the node's datadir) when first needed. A node that restarts writes a new cookie: on
`unauthorized` or `node-unreachable` the thread drops its client, so the next call reads the cookie
again, and an `unauthorized` call is retried once at once with the fresh cookie.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from hashgrad.errors import RpcError
from hashgrad.node.client import NodeClient

WORKERS = 4
RECONNECT_REASONS = ("unauthorized", "node-unreachable")


class NodeGateway:
    """`await gateway.run(fn, *args)` calls `fn(client, *args)` in a worker thread with that thread's client."""

    def __init__(self, connect: Callable[[], NodeClient], workers: int = WORKERS):
        self.connect = connect
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="explorer-rpc")
        self._local = threading.local()

    async def run(self, fn, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call_in_thread, fn, args)

    def _call_in_thread(self, fn, args):
        try:
            return fn(self._get_client(), *args)
        except RpcError as exc:
            if exc.reason not in RECONNECT_REASONS:
                raise
            self._drop_client()
            if exc.reason != "unauthorized":
                raise
        return fn(self._get_client(), *args)  # once more, with the cookie the node has now

    def _get_client(self) -> NodeClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self.connect()
            self._local.client = client
        return client

    def _drop_client(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.close()
        self._local.client = None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
