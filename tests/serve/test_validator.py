"""The inference validator: challenges, pure scoring and weights, and a whole round over loopback
HTTP in which honest miners earn weight and every kind of cheating miner earns zero."""

from __future__ import annotations

import pytest

from hashgrad.chain.keys import SigningKey
from hashgrad.incentive.convert import compute_weights_from_scores
from hashgrad.serve.adversaries import ADVERSARY_KINDS, build_backend
from hashgrad.serve.server import BackgroundServer, InferenceServer, ServerConfig
from hashgrad.serve.validator import (
    MinerEndpoint,
    Outcome,
    compute_challenges,
    compute_scores,
    get_heldout_texts,
    run_validation_round_blocking,
)

VALIDATOR = SigningKey(bytes.fromhex("66" * 32))
SEED = bytes(range(32))


def test_challenges_are_deterministic_and_fit_the_context(serve_dataset):
    texts = get_heldout_texts(serve_dataset)
    challenges = compute_challenges(SEED, texts, 60, 64)
    assert challenges == compute_challenges(SEED, texts, 60, 64)
    assert challenges != compute_challenges(bytes(32), texts, 60, 64)
    for c in challenges:
        assert 1 <= len(c.prompt) and len(c.prompt) + c.max_tokens <= 64 and c.max_tokens >= 8
        bytes(c.prompt).decode("utf-8")  # ordinary text, sent as a string
        body = c.to_body("m")
        assert body["logprobs"] == 0 and isinstance(body["prompt"], str)
    kinds = {(c.params.is_greedy, c.stream) for c in challenges}
    assert kinds == {(True, True), (True, False), (False, True), (False, False)}
    assert len({c.params.seed for c in challenges if not c.params.is_greedy}) > 20


def test_scores_gate_on_correctness_then_reward_speed():
    fast = [Outcome("ok", 20, 0.01, 0.1)] * 4
    slow = [Outcome("ok", 20, 0.02, 0.2)] * 4
    flaky = [Outcome("ok", 20, 0.01, 0.1)] * 2 + [Outcome("error: unreachable: TimeoutError")] * 2
    cheat = [Outcome("ok", 20, 0.001, 0.01)] * 3 + [Outcome("wrong-token", 20, 0.001, 0.01)]
    scores = compute_scores({0: fast, 1: slow, 2: flaky, 3: cheat, 4: []})
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(0.25 + 0.75 * 0.5)
    assert scores[2] == pytest.approx(0.5)
    assert scores[3] == 0.0 and scores[4] == 0.0
    assert compute_weights_from_scores(scores) == ((0, 65535), (1, 40959), (2, 32768))
    assert compute_weights_from_scores({0: 0.0}) == ()


def test_round_pays_honest_miners_and_zero_to_every_cheat(current, older, serve_dataset):
    kinds = ["honest", "honest", *ADVERSARY_KINDS]
    servers, miners = [], []
    try:
        for uid, kind in enumerate(kinds):
            hotkey = SigningKey((uid + 1).to_bytes(32, "big"))
            config = ServerConfig(hotkey=hotkey.pubkey, allowed=frozenset({VALIDATOR.pubkey}))
            servers.append(BackgroundServer(InferenceServer(build_backend(kind, current, older), config)).start())
            miners.append(MinerEndpoint(uid, servers[-1].url, hotkey.pubkey))
        engine = build_backend("honest", current)
        report = run_validation_round_blocking(miners, engine, VALIDATOR, SEED, get_heldout_texts(serve_dataset), 4)
    finally:
        for server in servers:
            server.stop()
    weights = dict(report.weights)
    assert set(weights) == {0, 1} and max(weights.values()) == 65535
    for uid, kind in enumerate(kinds[2:], start=2):
        assert report.scores[uid] == 0.0, kind
        assert any(o.is_cheat for o in report.outcomes[uid]), kind
    assert all(o.is_ok for uid in (0, 1) for o in report.outcomes[uid])
