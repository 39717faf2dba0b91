"""Benchmark of the node: block propagation, initial sync against local connect, RPC throughput.

    .venv/bin/python bench/bench_node.py [--blocks-propagated 30] [--sync-blocks 1000] [--rpc-seconds 2]

Real `hashgrad node` processes on loopback (regtest), driven over RPC, as in the functional tests:
1. propagation: 5 nodes in a line (node4 → node3 → ... → node0); node0 makes one block at a time and
   we time until node4's RPC reports it as its tip (polled every ms), p50 and p95 in ms;
2. initial sync: node0 holds N blocks, a fresh (already running) node connects and we time from
   the `addnode` until it reaches N
   (blocks/s), against connecting the same blocks into a fresh in-process Ledger (blocks/s); the
   ratio sync/local is what the network costs;
3. RPC: sequential getblockcount calls over one kept-alive connection (calls/s).
The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from functional.framework import TestNode, connect_nodes, new_address, sync_blocks, wait_until  # noqa: E402
from hashgrad.chain.block import parse_block  # noqa: E402
from hashgrad.chain.params import get_network  # noqa: E402
from hashgrad.node.ledger import Ledger  # noqa: E402

POLL_S = 0.001


def measure_propagation(root: Path, count: int) -> list[float]:
    nodes = [TestNode(i, root / "line") for i in range(5)]
    try:
        for node in nodes:
            node.start()
        for near, far in zip(nodes, nodes[1:]):
            connect_nodes(far, near)
        _, address = new_address(nodes[0].params)
        nodes[0].generate(1, address)
        sync_blocks(nodes)
        latencies = []
        last = nodes[-1]
        for _ in range(count):
            started = time.perf_counter()
            block_hash = nodes[0].generate(1, address)[0]
            while last.getbestblockhash() != block_hash:
                if time.perf_counter() - started > 60:
                    raise AssertionError("a block did not reach the end of the line in 60 s")
                time.sleep(POLL_S)
            latencies.append((time.perf_counter() - started) * 1000)
        return latencies
    finally:
        for node in nodes:
            node.cleanup()


def measure_sync(root: Path, count: int) -> tuple[float, float, int]:
    source = TestNode(0, root / "sync")
    late = TestNode(1, root / "sync")
    try:
        source.start()
        _, address = new_address(source.params)
        source.generate(count, address)
        hashes = source.rpc.batch([("getblockhash", h) for h in range(1, count + 1)])
        raw_blocks = source.rpc.batch([("getblock", h, 0) for h in hashes])
        late.start()
        started = time.perf_counter()  # from the connection, not the process start
        late.addnode(source.p2p_addr, "onetry")
        wait_until(lambda: late.getblockcount() >= count, 600, "the initial sync")
        sync_s = time.perf_counter() - started
    finally:
        source.cleanup()
        late.cleanup()
    local_s = measure_local_connect(root / "local", [bytes.fromhex(b) for b in raw_blocks])
    return count / sync_s, count / local_s, count


def measure_local_connect(datadir: Path, raw_blocks: list[bytes]) -> float:
    """Seconds to parse and connect the blocks into a fresh in-process ledger (no network, no RPC)."""
    params = get_network("regtest")
    ledger = Ledger(params, datadir)
    try:
        started = time.perf_counter()
        for raw in raw_blocks:
            ledger.submit_block(parse_block(raw, params.max_block_size))
        elapsed = time.perf_counter() - started
        if ledger.chainstate.height != len(raw_blocks):
            raise AssertionError(f"local connect ended at {ledger.chainstate.height}")
        return elapsed
    finally:
        ledger.close()


def measure_rpc(root: Path, seconds: float) -> float:
    node = TestNode(0, root / "rpc")
    try:
        node.start()
        rpc = node.rpc
        calls = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            rpc.call("getblockcount")
            calls += 1
        return calls / (time.perf_counter() - started)
    finally:
        node.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks-propagated", type=int, default=30)
    parser.add_argument("--sync-blocks", type=int, default=1000)
    parser.add_argument("--rpc-seconds", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-node-") as tmp:
        root = Path(tmp)
        latencies = measure_propagation(root, args.blocks_propagated)
        p50 = statistics.median(latencies)
        p95 = sorted(latencies)[max(0, round(0.95 * len(latencies)) - 1)]
        print(f"propagation over 5 nodes in a line ({len(latencies)} blocks): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        sync_rate, local_rate, count = measure_sync(root, args.sync_blocks)
        print(
            f"initial sync of {count} blocks: {sync_rate:.0f} blocks/s; local connect {local_rate:.0f} blocks/s; "
            f"ratio {sync_rate / local_rate:.2f}"
        )
        rpc_rate = measure_rpc(root, args.rpc_seconds)
        print(f"RPC getblockcount, one kept-alive client: {rpc_rate:.0f} calls/s")
    print(
        json.dumps(
            {
                "propagation_5_line_p50_ms": round(p50, 2),
                "propagation_5_line_p95_ms": round(p95, 2),
                "sync_blocks_per_s": round(sync_rate, 1),
                "local_connect_blocks_per_s": round(local_rate, 1),
                "sync_to_local_ratio": round(sync_rate / local_rate, 3),
                "sync_blocks": count,
                "rpc_calls_per_s": round(rpc_rate, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
