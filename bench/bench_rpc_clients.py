"""Benchmark of the node as Bitcoin's tools see it: python-bitcoinrpc calls/s, ZMQ notification latency.

    .venv/bin/python bench/bench_rpc_clients.py [--seconds 2] [--blocks 20]

One real `hashgrad node` process (regtest, loopback) started with `-zmqpubhashblock`:
1. python-bitcoinrpc's AuthServiceProxy, one kept-alive connection: getblockcount calls/s and
   getblockheader calls/s (a chainstate read on the node's worker thread);
2. a JSON-RPC 1.0 batch of 100 getblockhash calls over http.client: batches/s;
3. ZMQ: from sending `generatetoaddress 1` to the hashblock message reaching a pyzmq subscriber
   (received on its own thread), next to the same call's RPC reply, p50 and p95 in ms, over --blocks.
The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import zmq  # noqa: E402
from bitcoinrpc.authproxy import AuthServiceProxy  # noqa: E402

from functional.framework import TestNode, find_free_port, new_address  # noqa: E402


def count_calls(fn, seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        done += 1
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--blocks", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        node = TestNode(0, Path(root))
        zmq_port = find_free_port()
        node.start(f"-zmqpubhashblock=tcp://127.0.0.1:{zmq_port}")
        try:
            address = new_address(node.params)[1]
            node.generate(100, address)
            cookie = (node.datadir / ".cookie").read_text()
            proxy = AuthServiceProxy(f"http://{cookie}@127.0.0.1:{node.rpc_port}/")
            tip = proxy.getbestblockhash()
            count_rate = count_calls(proxy.getblockcount, args.seconds)
            header_rate = count_calls(lambda: proxy.getblockheader(tip), args.seconds)
            conn = http.client.HTTPConnection("127.0.0.1", node.rpc_port)
            auth = {"Authorization": "Basic " + base64.b64encode(cookie.encode()).decode()}
            body = json.dumps([{"method": "getblockhash", "params": [h], "id": h} for h in range(100)])

            def batch():
                conn.request("POST", "/", body=body, headers=auth)
                assert len(json.loads(conn.getresponse().read())) == 100

            batch_rate = count_calls(batch, args.seconds)
            sub = zmq.Context().socket(zmq.SUB)
            sub.setsockopt(zmq.SUBSCRIBE, b"hashblock")
            sub.setsockopt(zmq.RCVTIMEO, 10_000)
            sub.connect(f"tcp://127.0.0.1:{zmq_port}")
            time.sleep(0.5)  # a SUB socket misses what is published before its subscription reaches the PUB
            arrivals: dict[str, float] = {}
            receiver = threading.Thread(
                target=lambda: arrivals.update(
                    (sub.recv_multipart()[1].hex(), time.perf_counter()) for _ in range(args.blocks)
                )
            )
            receiver.start()
            sent_at, replied = {}, []
            for _ in range(args.blocks):
                start = time.perf_counter()
                made = proxy.generatetoaddress(1, address)[0]
                sent_at[made] = start
                replied.append((time.perf_counter() - start) * 1000)
            receiver.join(30)
            sub.close(linger=0)
            latencies = sorted((arrivals[h] - sent_at[h]) * 1000 for h in sent_at)
        finally:
            node.cleanup()
    replied.sort()
    print(
        json.dumps(
            {
                "getblockcount_calls_per_s": round(count_rate),
                "getblockheader_calls_per_s": round(header_rate),
                "batch100_per_s": round(batch_rate, 1),
                "zmq_hashblock_p50_ms": round(statistics.median(latencies), 2),
                "zmq_hashblock_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
                "rpc_reply_p50_ms": round(statistics.median(replied), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
