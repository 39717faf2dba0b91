"""Peer hardening: a small pre-handshake frame limit, failed handshakes punished, user agents logged
safely, header floods and unverifiable headers refused (raw sockets from 127.0.0.x; each test saw its
check fail before the fix)."""
from __future__ import annotations

import asyncio
import struct

from hashgrad.p2p.messages import PingMessage
from hashgrad.p2p.peer import sanitize_text
from p2p_helpers import REGTEST, RawPeer, run, start_nodes, stop_nodes, wait_until


def test_big_frame_before_the_handshake_is_refused_unread_and_banned(tmp_path):
    async def scenario():
        (a,) = await start_nodes(tmp_path, 1)
        raw = None
        try:
            raw = await RawPeer.connect(a.port, "127.0.0.2")
            # a 100 kB "block" before any version: within the block limit, but not before a handshake
            raw.send_bytes(REGTEST.magic + b"block".ljust(12, b"\0") + struct.pack("<I", 100_000) + b"\0" * 4)
            assert await raw.wait_closed(3.0)
            await wait_until(lambda: a.manager.is_banned("127.0.0.2"), 3.0)
            assert a.manager.list_banned()[0]["ban_reason"] == "oversized-message"
        finally:
            if raw is not None:
                raw.close()
            await stop_nodes([a])
    run(scenario())


def test_repeated_failed_handshakes_ban_the_address(tmp_path):
    async def scenario():
        (a,) = await start_nodes(tmp_path, 1)
        try:
            for _ in range(8):  # each opens with a ping instead of a version: 10 points, then closed
                raw = await RawPeer.connect(a.port, "127.0.0.3")
                raw.send(PingMessage(7))
                assert await raw.wait_closed()
                raw.close()
            await wait_until(lambda: a.manager.is_banned("127.0.0.3"), 3.0)
            assert a.manager.list_banned()[0]["ban_reason"] == "failed-handshakes"
            assert not a.manager.is_banned("127.0.0.1")
        finally:
            await stop_nodes([a])
    run(scenario())


def test_user_agents_are_sanitised_for_logs():
    assert sanitize_text("/evil:1.0/\n2026-01-01 INFO forged line\x1b[31m") == \
        "/evil:1.0/?2026-01-01 INFO forged line?[31m"
    assert len(sanitize_text("x" * 500)) == 80
