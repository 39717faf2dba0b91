"""Starting and stopping the devnet's OS processes, so that none is ever left behind.

Each child runs in its own process group with its output in a log file; `stop_all` sends SIGTERM,
waits, then SIGKILLs the group of anything still alive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path

    def read_log_tail(self, lines: int = 12, max_bytes: int = 8192) -> str:
        """The last lines of the child's log, so that a death is explained where it is reported."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(max(0, handle.seek(0, os.SEEK_END) - max_bytes))
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class ProcessGroup:
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, args: list[str], log_path: Path, env: dict | None = None) -> Child:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(log_path, "ab")
        # no CPU kernel pin: every role declares its hardware class and audits replay across classes
        child_env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **(env or {}))
        process = subprocess.Popen(
            [sys.executable, "-m", "hashgrad", *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_env,
            start_new_session=True,
        )
        handle.close()
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def get_dead(self) -> list[Child]:
        return [c for c in self.children if c.process.poll() is not None]

    def stop_all(self, timeout: float = 15.0) -> None:
        """SIGTERM every child (roles first, nodes last), wait, then SIGKILL what is left."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                try:
                    os.killpg(child.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for child in self.children:
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                pass
        for child in self.children:
            if child.process.poll() is None:
                try:
                    os.killpg(child.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.process.wait(5)

    def pids(self) -> list[int]:
        return [c.process.pid for c in self.children]
