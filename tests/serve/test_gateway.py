"""The gateway: best-ranked miner first, answers verified, cheats and dead miners skipped."""

from __future__ import annotations

import asyncio
import random

import pytest

from hashgrad.chain.keys import SigningKey
from hashgrad.errors import ProtocolError
from hashgrad.serve.adversaries import build_backend
from hashgrad.serve.engine import SamplingParams, encode_text
from hashgrad.serve.gateway import Gateway, RoutedMiner, compute_route_order
from hashgrad.serve.server import BackgroundServer, InferenceServer, ServerConfig

GATEWAY = SigningKey(bytes.fromhex("77" * 32))
PROMPT = "from email import "


@pytest.fixture(scope="module")
def servers(current, older):
    running = {}
    for kind in ("honest", "random", "stale"):
        hotkey = SigningKey(bytes([len(running) + 1]) * 32).pubkey
        running[kind] = BackgroundServer(
            InferenceServer(build_backend(kind, current, older), ServerConfig(hotkey=hotkey))
        ).start()
    yield running
    for server in running.values():
        server.stop()


def test_route_order_by_incentive():
    miners = [
        RoutedMiner("a", incentive=0.1),
        RoutedMiner("b", incentive=0.5),
        RoutedMiner("c", incentive=0.5),
        RoutedMiner("d", incentive=0.9, set_aside="wrong-token"),
    ]
    assert [m.url for m in compute_route_order(miners)] == ["b", "c", "a"]


def test_gateway_falls_back_past_cheats_to_a_verified_answer(servers, engine):
    miners = [
        RoutedMiner(servers["random"].url, incentive=0.9),
        RoutedMiner(servers["stale"].url, incentive=0.5),
        RoutedMiner("http://127.0.0.1:9", incentive=0.4),
        RoutedMiner(servers["honest"].url, incentive=0.1),
    ]
    gateway = Gateway(miners, engine, GATEWAY)
    answer = asyncio.run(gateway.complete(PROMPT, 12, SamplingParams()))
    assert answer.url == servers["honest"].url and answer.verified
    assert answer.tokens == engine.generate(encode_text(PROMPT), 12, SamplingParams()).tokens
    outcomes = [a.outcome for a in answer.attempts]
    # random tokens hit the argmax now and then (1/256), and then fail on their made-up log-probability
    assert outcomes[0] in ("wrong-token", "wrong-logprob")
    assert outcomes[1:] == ["wrong-logprob", "ok"]  # the dead miner was set aside at discovery
    assert miners[2].set_aside.startswith("error")
    # the cheats are set aside for the rest of the session: the next request goes straight to the honest miner
    again = asyncio.run(gateway.complete(PROMPT, 8, SamplingParams(0.8, 0, 1.0, 0)))
    assert [a.url for a in again.attempts] == [servers["honest"].url] and again.verified and again.seed != 0


def test_gateway_without_spot_checks_returns_unverified(servers, engine):
    gateway = Gateway([RoutedMiner(servers["random"].url)], engine, GATEWAY, spot_check=0.0, rng=random.Random(0))
    answer = asyncio.run(gateway.complete(PROMPT, 4, SamplingParams()))
    assert not answer.verified and answer.attempts[0].outcome == "unverified"


def test_gateway_with_no_good_miner_raises(servers, engine):
    gateway = Gateway([RoutedMiner(servers["random"].url)], engine, GATEWAY)
    with pytest.raises(ProtocolError) as info:
        asyncio.run(gateway.complete(PROMPT, 4, SamplingParams()))
    assert info.value.reason == "no-miner-answered"
