"""Telling the outside about new blocks and transactions: waiters, `--blocknotify`, ZMQ.

The ledger calls its listeners on the worker thread that moved the tip or admitted a transaction;
ChainNotifier hops onto the event loop and there:
- records the new tip and wakes every coroutine waiting for a change (`waitfornewblock`,
  `waitforblockheight`, getblocktemplate's long poll);
- counts mempool admissions (the long poll's "transactions updated", as Core's
  `nTransactionsUpdated`);
- runs the `--blocknotify` command with `%s` replaced by the new tip's hash, without waiting for it;
- hands connected blocks and admitted transactions to the ZMQ publisher, in the order they happened.
"""

from __future__ import annotations

import asyncio
import logging
import time

from hashgrad.chain.hashes import hash_to_display
from hashgrad.node.zmq_pub import ZmqPublisher

MAX_NOTIFY_PROCESSES = 16  # blocknotify commands still running before new ones are skipped

log = logging.getLogger("hashgrad.notify")


class ChainNotifier:
    def __init__(self, node):
        self.node = node
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tip_hash = b""
        self.tip_height = -1
        self.tx_updates = 0
        self.changed = asyncio.Event()
        self.zmq = ZmqPublisher(node.config.zmq_pub) if node.config.zmq_pub else None
        self._notify_tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------ wiring
    def attach(self) -> None:
        self.loop = asyncio.get_running_loop()
        tip = self.node.ledger.chainstate.tip
        self.tip_hash, self.tip_height = tip.hash, tip.height
        self.node.ledger.listeners.append(self._on_ledger_result)
        self.node.ledger.tx_listeners.append(self._on_transaction)

    async def stop(self) -> None:
        ledger = self.node.ledger
        if self._on_ledger_result in ledger.listeners:
            ledger.listeners.remove(self._on_ledger_result)
        if self._on_transaction in ledger.tx_listeners:
            ledger.tx_listeners.remove(self._on_transaction)
        self.changed.set()  # wake every waiter; they see the node stopping
        if self._notify_tasks:
            await asyncio.wait(set(self._notify_tasks), timeout=5)
        if self.zmq is not None:
            self.zmq.close()

    def _hop(self, fn, *args) -> None:
        """From the worker thread onto the event loop (dropped while the loop shuts down)."""
        if self.loop is None or self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass

    def _on_ledger_result(self, result) -> None:
        tip = self.node.ledger.chainstate.tip  # read on the worker thread that just moved it
        self._hop(self.on_tip_changed, tip.hash, tip.height, list(result.connected))

    def _on_transaction(self, tx) -> None:
        self._hop(self.on_transaction, tx)

    # ------------------------------------------------------------ on the event loop
    def on_tip_changed(self, tip_hash: bytes, height: int, connected: list) -> None:
        if self.zmq is not None:
            for block in connected:
                self.zmq.publish_block(block)
        if tip_hash == self.tip_hash:
            return
        self.tip_hash, self.tip_height = tip_hash, height
        self._wake()
        if self.node.config.block_notify:
            self._run_block_notify(self.node.config.block_notify.replace("%s", hash_to_display(tip_hash)))

    def on_transaction(self, tx) -> None:
        self.tx_updates += 1
        if self.zmq is not None:
            self.zmq.publish_transaction(tx)
        self._wake()

    def _wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def _run_block_notify(self, command: str) -> None:
        if len(self._notify_tasks) >= MAX_NOTIFY_PROCESSES:
            log.warning("blocknotify skipped: %d commands still running", len(self._notify_tasks))
            return
        task = asyncio.ensure_future(self._run_command(command))
        self._notify_tasks.add(task)
        task.add_done_callback(self._notify_tasks.discard)

    @staticmethod
    async def _run_command(command: str) -> None:
        try:
            process = await asyncio.create_subprocess_shell(command, stdin=asyncio.subprocess.DEVNULL)
            code = await process.wait()
        except OSError as exc:
            log.warning("blocknotify %r failed to start: %s", command, exc)
            return
        if code:
            log.warning("blocknotify %r exited with %d", command, code)

    # ------------------------------------------------------------ waiting (RPC)
    def get_tip(self) -> dict:
        return {"hash": hash_to_display(self.tip_hash), "height": self.tip_height}

    async def wait_for(self, predicate, timeout_s: float | None) -> None:
        """Until predicate() is true, the node stops or timeout_s passes (None: no limit)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not predicate() and not self.node.is_stopping():
            event = self.changed
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return
