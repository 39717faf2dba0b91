"""What a cross-class audit's reveal costs to move: a demo-model-sized reveal (Δ and the milestone
states of 0.84M parameters) is cut into chunks, stored on node 0 as a miner does after its commit
(roles.reveals.publish_reveal), and fetched through node 1, which asks node 0 for each chunk by hash,
as an auditing validator does (roles.reveals.fetch_reveal). Two real nodes on loopback.

    .venv/bin/python bench/bench_reveal.py [--preset demo]

The last line of output is one JSON object: reveal_bytes, chunks, manifest_bytes, package_s (encode
and chunk), publish_s, fetch_via_peer_s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from functional.framework import TestNode, connect_nodes  # noqa: E402
from hashgrad.roles.reveals import fetch_reveal, publish_reveal  # noqa: E402
from hashgrad.work.miner import InnerState  # noqa: E402
from hashgrad.work.model import compute_flat, compute_initial_state  # noqa: E402
from hashgrad.work.params import get_preset  # noqa: E402
from hashgrad.work.reveal import compute_reveal_package, encode_reveal  # noqa: E402
from hashgrad.work.update import compute_milestone_steps  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    preset = parser.parse_args().preset
    params = get_preset(preset)
    flat = compute_flat(compute_initial_state(params.model, 0))
    states = tuple(InnerState(s, flat + s, flat * 0.1, flat.abs()) for s in compute_milestone_steps(params))
    started = time.monotonic()
    reveal = encode_reveal(flat * 0.01, states)  # the sizes of a real reveal; the values do not matter here
    package = compute_reveal_package(reveal)
    package_s = time.monotonic() - started
    with tempfile.TemporaryDirectory() as root:
        nodes = [TestNode(i, Path(root)) for i in range(2)]
        try:
            for node in nodes:
                node.start()
            connect_nodes(nodes[1], nodes[0])
            started = time.monotonic()
            publish_reveal(nodes[0].connect(), package)
            publish_s = time.monotonic() - started
            started = time.monotonic()
            fetched = fetch_reveal(nodes[1].connect(), package.manifest_id, params)
            fetch_s = time.monotonic() - started
        finally:
            for node in nodes:
                node.cleanup()
    if fetched != reveal:
        raise SystemExit("the fetched reveal differs from the published one")
    print(
        json.dumps(
            {
                "preset": preset,
                "params": flat.numel(),
                "reveal_bytes": len(reveal),
                "chunks": len(package.chunks),
                "manifest_bytes": len(package.manifest),
                "package_s": round(package_s, 2),
                "publish_s": round(publish_s, 2),
                "fetch_via_peer_s": round(fetch_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
