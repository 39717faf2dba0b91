#!/usr/bin/env python3
"""Benchmark of inference (job 1): serving speed, verification cost and cheat detection.

The same library code as the processes (serve.server over real loopback HTTP, serve.validator's
challenges and round, serve.verify, serve.adversaries):

  1. model: the demo preset (0.84M params, context 128) trained briefly on the Python stdlib
     (or --checkpoint FILE); "older" is the same run stopped earlier (what the stale cheat serves)
  2. engine: tokens/s of the cached fast path and of the reference loop, no HTTP
  3. verify_ratio: for the same completions (validator challenges: greedy and seeded sampling,
     8-48 tokens), time of one teacher-forced verification pass / time to generate them
     (goal <= 0.2), in-engine and against end-to-end HTTP serving time
  4. one honest miner alone over HTTP (signed requests, C validator challenges): tokens/s served
  5. one validation round over 2 honest miners + one of each cheating kind, C challenges each, all
     in this process (so miners share 2 cores and the GIL): tokens/s served per miner,
     per-challenge detection rate and weight per kind

Runs torch on one thread. Prints progress; the last line is JSON.
    .venv/bin/python bench/bench_inference.py [--train-steps 40] [--challenges 12] [--checkpoint FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from hashgrad.chain.keys import SigningKey  # noqa: E402
from hashgrad.serve.adversaries import ADVERSARY_KINDS, build_backend  # noqa: E402
from hashgrad.serve.checkpoints import load_checkpoint_file  # noqa: E402
from hashgrad.serve.server import BackgroundServer, InferenceServer, ServerConfig  # noqa: E402
from hashgrad.serve.validator import (  # noqa: E402
    MinerEndpoint,
    compute_challenges,
    compute_miner_stats,
    get_heldout_texts,
    run_validation_round_blocking,
)
from hashgrad.serve.verify import Claim, verify_completion  # noqa: E402
from hashgrad.work.centralized import compute_centralized_training  # noqa: E402
from hashgrad.work.data import build_stdlib_dataset  # noqa: E402
from hashgrad.work.miner import set_determinism_pins  # noqa: E402
from hashgrad.work.model import Checkpoint, compute_initial_state, compute_num_params  # noqa: E402
from hashgrad.work.params import get_preset  # noqa: E402

VALIDATOR = SigningKey(bytes([0x42]) * 32)
SEED = bytes(range(32))


def log(message: str) -> None:
    print(message, flush=True)


def build_checkpoints(args, params, dataset) -> tuple[Checkpoint, Checkpoint]:
    if args.checkpoint:
        current = load_checkpoint_file(args.checkpoint)[0]
        return current, Checkpoint(current.config, compute_initial_state(current.config, 1))
    start = Checkpoint(params.model, compute_initial_state(params.model, 0))
    started = time.monotonic()
    older = compute_centralized_training(start, dataset, params, args.train_steps - 10, 16, SEED)
    current = compute_centralized_training(older, dataset, params, 10, 16, SEED)
    log(
        f"trained {compute_num_params(params.model)} params for {args.train_steps} steps "
        f"({time.monotonic() - started:.1f} s)"
    )
    return current, older


def measure_engine(engine, challenges) -> dict:
    """Generation (cached and reference) and verification times for the same completions."""
    generate_s, reference_s, verify_s, tokens = 0.0, 0.0, 0.0, 0
    for c in challenges:
        t0 = time.perf_counter()
        completion = engine.generate(c.prompt, c.max_tokens, c.params)
        t1 = time.perf_counter()
        engine.generate(c.prompt, c.max_tokens, c.params, cached=False)
        t2 = time.perf_counter()
        claim = Claim(
            c.prompt,
            completion.tokens,
            completion.logprobs,
            c.params,
            c.max_tokens,
            "length",
            engine.fingerprint,
            c.params.seed,
        )
        if not verify_completion(engine, claim, engine.fingerprint).ok:
            raise SystemExit("an honest completion failed verification")
        t3 = time.perf_counter()
        generate_s, reference_s, verify_s = generate_s + t1 - t0, reference_s + t2 - t1, verify_s + t3 - t2
        tokens += len(completion.tokens)
    return {"tokens": tokens, "generate_s": generate_s, "reference_s": reference_s, "verify_s": verify_s}


def run_round(current, older, texts, challenges: int, kinds: list[str]):
    servers, miners = [], []
    try:
        for uid, kind in enumerate(kinds):
            hotkey = SigningKey((uid + 1).to_bytes(32, "big"))
            config = ServerConfig(hotkey=hotkey.pubkey, allowed=frozenset({VALIDATOR.pubkey}), rate=0)
            servers.append(BackgroundServer(InferenceServer(build_backend(kind, current, older), config)).start())
            miners.append(MinerEndpoint(uid, servers[-1].url, hotkey.pubkey))
        engine = build_backend("honest", current)
        started = time.monotonic()
        report = run_validation_round_blocking(miners, engine, VALIDATOR, SEED, texts, challenges, timeout=120)
        return kinds, report, time.monotonic() - started
    finally:
        for server in servers:
            server.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--train-steps", type=int, default=40)
    parser.add_argument("--challenges", type=int, default=12, help="challenges per miner in the round")
    parser.add_argument("--engine-challenges", type=int, default=24)
    parser.add_argument("--checkpoint", help="serve this checkpoint instead of training one")
    args = parser.parse_args(argv)
    set_determinism_pins(threads=1)
    params = get_preset(args.preset)
    started = time.monotonic()
    dataset = build_stdlib_dataset(params.page_tokens)
    texts = get_heldout_texts(dataset)
    log(f"dataset: {len(dataset.pages)} pages, {len(texts)} held out ({time.monotonic() - started:.1f} s)")
    current, older = build_checkpoints(args, params, dataset)
    engine = build_backend("honest", current)

    challenges = compute_challenges(bytes(32), texts, args.engine_challenges, engine.context)
    timing = measure_engine(engine, challenges)
    engine_tps = timing["tokens"] / timing["generate_s"]
    log(
        f"engine: {engine_tps:.0f} tokens/s cached, {timing['tokens'] / timing['reference_s']:.0f} reference; "
        f"verify/generate = {timing['verify_s'] / timing['generate_s']:.3f} "
        f"({timing['verify_s'] * 1e3:.1f} ms vs {timing['generate_s'] * 1e3:.1f} ms, {timing['tokens']} tokens)"
    )

    _, alone, alone_s = run_round(current, older, texts, args.challenges, ["honest"])
    alone_stats = compute_miner_stats(alone.outcomes[0])
    log(
        f"one miner alone over HTTP: {alone_stats.tokens_per_s:.0f} tokens/s served, median first token "
        f"{alone_stats.latency_s * 1e3:.0f} ms ({args.challenges} challenges in {alone_s:.1f} s)"
    )
    kinds, report, round_s = run_round(current, older, texts, args.challenges, ["honest", "honest", *ADVERSARY_KINDS])
    per_kind = {}
    for uid, kind in enumerate(kinds):
        outcomes = report.outcomes[uid]
        stats = compute_miner_stats(outcomes)
        caught = sum(o.is_cheat for o in outcomes) / len(outcomes)
        reasons = sorted({o.verdict for o in outcomes if o.is_cheat})
        weight = dict(report.weights).get(uid, 0)
        log(
            f"uid {uid} {kind:12s} score {report.scores[uid]:.3f} weight {weight:5d} detected {caught:.0%} "
            f"served {stats.tokens_per_s:.0f} tok/s latency {stats.latency_s * 1e3:.0f} ms {reasons}"
        )
        key = kind if kind != "honest" else f"honest{uid}"
        per_kind[key] = {
            "detection_rate": round(caught, 3),
            "score": round(report.scores[uid], 4),
            "weight": weight,
            "tokens_per_s": round(stats.tokens_per_s, 1),
            "reasons": reasons,
        }
    honest = [uid for uid, kind in enumerate(kinds) if kind == "honest"]
    served_s = sum(o.total_s for uid in honest for o in report.outcomes[uid])
    served_tokens = sum(o.tokens for uid in honest for o in report.outcomes[uid])
    verify_s = sum(o.verify_s for uid in honest for o in report.outcomes[uid])
    log(
        f"round: {round_s:.1f} s for {len(kinds)} miners x {args.challenges} challenges; "
        f"verify / HTTP serving time (honest) = {verify_s / served_s:.3f}"
    )
    summary = {
        "preset": args.preset,
        "params": compute_num_params(current.config),
        "context": engine.context,
        "engine_tokens_per_s": round(engine_tps, 1),
        "reference_tokens_per_s": round(timing["tokens"] / timing["reference_s"], 1),
        "verify_ratio": round(timing["verify_s"] / timing["generate_s"], 4),
        "verify_ratio_vs_http": round(verify_s / served_s, 4),
        "served_tokens_per_s_alone": round(alone_stats.tokens_per_s, 1),
        "first_token_ms_alone": round(alone_stats.latency_s * 1e3, 1),
        "served_tokens_per_s_per_miner": {k: v["tokens_per_s"] for k, v in per_kind.items() if k.startswith("honest")},
        "served_tokens": served_tokens,
        "detection_rate": {k: v["detection_rate"] for k, v in per_kind.items() if not k.startswith("honest")},
        "adversary_weight": {k: v["weight"] for k, v in per_kind.items() if not k.startswith("honest")},
        "honest_weight": {k: v["weight"] for k, v in per_kind.items() if k.startswith("honest")},
        "challenges_per_miner": args.challenges,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
