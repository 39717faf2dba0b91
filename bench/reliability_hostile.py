"""Reliability bench, part: one node with 100 hostile connections keeps syncing from its honest peer
with bounded memory.

Two real node processes on loopback: `honest` mines a block every half second; `target` connects
out to it (`--connect`). Meanwhile this process opens 100 hostile inbound connections to `target`,
each from its own loopback address in its own /16 (127.(10+i).0.2), in five kinds of twenty:

    garbage    random bytes instead of frames
    slow       a version message trickled one byte per second (a slowloris)
    headers    a handshake, then floods of merge-mined headers (each with a proof, at the easiest
               bits) that no block will back
    addr       a handshake, then addr messages of 1,000 fresh addresses, again and again
    oversize   a frame header announcing a 30 MB block before any handshake

Each hostile connection is retried when the node drops it, until the campaign ends. Figures:
`hostile_peers` (connections opened), `honest_sync_ok` (target reached honest's tip within a few
seconds of the campaign's end, and kept its outbound connection), `rss_mb` (target's peak resident
memory, VmHWM), `hostile_banned` (addresses banned).
"""

from __future__ import annotations

import asyncio
import os
import random
import struct
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from functional.framework import TestNode, wait_until  # noqa: E402
from hashgrad.chain.auxpow import build_aux_coinbase_script, build_auxpow, build_parent_coinbase  # noqa: E402
from hashgrad.chain.genesis import build_genesis_block, compute_block_version  # noqa: E402
from hashgrad.chain.header import BlockHeader  # noqa: E402
from hashgrad.chain.pow import is_valid_proof_of_work  # noqa: E402
from hashgrad.errors import RpcError  # noqa: E402
from hashgrad.p2p.messages import (  # noqa: E402
    PROTOCOL_VERSION,
    AddrEntry,
    AddrMessage,
    HeadersMessage,
    VerackMessage,
    VersionMessage,
    encode_message,
)

KINDS = ("garbage", "slow", "headers", "addr", "oversize")


def read_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Campaign:
    def __init__(self, target: TestNode, seconds: float):
        self.target, self.params, self.seconds = target, target.params, seconds
        self.opened = 0
        self.genesis = build_genesis_block(self.params).hash

    def version(self) -> bytes:
        return encode_message(
            self.params.magic,
            VersionMessage(
                PROTOCOL_VERSION,
                1,
                int(time.time()),
                self.params.magic,
                self.genesis,
                0,
                int.from_bytes(os.urandom(8), "little"),
                "/hostile\n\x1b[31m/",
                0,
            ),
        )

    async def handshake(self, reader, writer) -> None:
        writer.write(self.version())
        writer.write(encode_message(self.params.magic, VerackMessage()))
        await writer.drain()
        await asyncio.wait_for(reader.read(4096), 5)

    def fake_headers(self, count: int) -> HeadersMessage:
        """Chained merge-mined headers with proofs that hold (a merge-mined header travels with its
        proof and is checked before it is queued), so the node must bound them as a flood."""
        prev, headers, auxpows = self.genesis, [], []
        version = compute_block_version(self.params, auxpow=True)
        pow_limit = self.params.pow.pow_limit
        for i in range(count):
            header = BlockHeader(
                version, prev, os.urandom(32), self.params.genesis_time + 60 * (i + 1), self.params.genesis_bits, i
            )
            coinbase = build_parent_coinbase(build_aux_coinbase_script(header.hash, 0, 0))
            parent = BlockHeader(0x20000000, os.urandom(32), coinbase.txid, int(time.time()), header.bits, 0)
            while not is_valid_proof_of_work(parent.hash, header.bits, pow_limit):
                parent = parent.with_nonce(parent.nonce + 1)
            headers.append(header)
            auxpows.append(build_auxpow(coinbase, parent))
            prev = header.hash
        return HeadersMessage(tuple(headers), tuple(auxpows))

    async def attack(self, kind: str, source: str, deadline: float) -> None:
        rng = random.Random(source)
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.target.p2p_port, local_addr=(source, 0)), 5
                )
            except (TimeoutError, OSError):
                await asyncio.sleep(1)
                continue
            self.opened += 1
            try:
                await self.play(kind, reader, writer, rng, deadline)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()
            await asyncio.sleep(0.5)

    async def play(self, kind: str, reader, writer, rng: random.Random, deadline: float) -> None:
        magic = self.params.magic
        if kind == "garbage":
            writer.write(rng.randbytes(4096))
        elif kind == "oversize":
            writer.write(magic + b"block".ljust(12, b"\0") + struct.pack("<I", 30 << 20) + b"\0" * 4)
        elif kind == "slow":
            for byte in self.version():
                if time.monotonic() > deadline:
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1.0)
        elif kind == "headers":
            await self.handshake(reader, writer)
            for _ in range(6):
                writer.write(encode_message(magic, self.fake_headers(2000)))
                await writer.drain()
        elif kind == "addr":
            await self.handshake(reader, writer)
            while time.monotonic() < deadline:
                entries = tuple(
                    AddrEntry(
                        int(time.time()),
                        1,
                        f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                        8333,
                    )
                    for _ in range(1000)
                )
                writer.write(encode_message(magic, AddrMessage(entries)))
                await writer.drain()
                await asyncio.sleep(0.2)
        await writer.drain()
        await asyncio.wait_for(reader.read(1 << 16), max(0.1, deadline - time.monotonic()))

    async def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        await asyncio.gather(*(self.attack(KINDS[i % len(KINDS)], f"127.{10 + i}.0.2", deadline) for i in range(100)))


def run_hostile_bench(seconds: float = 30.0) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        honest = TestNode(0, Path(tmp))
        target = TestNode(1, Path(tmp))
        try:
            honest.start()
            honest.generate(5)
            target.start("--connect", honest.p2p_addr)
            wait_until(lambda: target.getblockcount() == 5, 60, "target to sync from honest")
            stop = threading.Event()

            def mine() -> None:
                while not stop.is_set():
                    honest.generate(1)
                    stop.wait(0.5)

            miner = threading.Thread(target=mine, daemon=True)
            miner.start()
            campaign = Campaign(target, seconds)
            asyncio.run(campaign.run())
            stop.set()
            miner.join()
            tip = honest.getbestblockhash()
            synced = True
            try:
                wait_until(lambda: target.getbestblockhash() == tip, 15, "target to reach honest's tip")
                outbound = [p for p in target.getpeerinfo() if not p["inbound"]]
                banned = len(target.listbanned())
            except (AssertionError, RpcError):  # not synced, or blinded: its RPC does not even answer
                synced, outbound, banned = False, [], -1
            return {
                "hostile_peers": campaign.opened,
                "honest_sync_ok": synced and bool(outbound),
                "honest_height": honest.getblockcount(),
                "rss_mb": round(read_peak_rss_mb(target.process.pid), 1),
                "hostile_banned": banned,
            }
        finally:
            target.cleanup()
            honest.cleanup()


if __name__ == "__main__":
    print(run_hostile_bench(float(sys.argv[1]) if len(sys.argv) > 1 else 30.0))
