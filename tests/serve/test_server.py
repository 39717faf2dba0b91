"""The miner's HTTP API over real loopback HTTP: the `openai` client against an open server, and a
signed server that refuses unsigned, replayed, oversized and too-frequent requests."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from hashgrad.chain.keys import SigningKey
from hashgrad.serve.auth import sign_request
from hashgrad.serve.client import MinerClient, parse_claim
from hashgrad.serve.engine import SamplingParams, encode_text
from hashgrad.serve.protocol import compute_model_id
from hashgrad.serve.server import BackgroundServer, InferenceServer, ServerConfig
from hashgrad.serve.verify import verify_completion
from support.serve_http import body_for, post

VALIDATOR = SigningKey(bytes.fromhex("44" * 32))
MINER = SigningKey(bytes.fromhex("55" * 32))


@pytest.fixture(scope="module")
def open_server(engine):
    with BackgroundServer(InferenceServer(engine, ServerConfig(open_access=True))) as running:
        yield running


@pytest.fixture(scope="module")
def signed_server(engine):
    config = ServerConfig(hotkey=MINER.pubkey, max_body_bytes=4096, rate=50, burst=8)
    with BackgroundServer(InferenceServer(engine, config)) as running:
        yield running


def signed_headers(body: bytes) -> dict:
    return sign_request(VALIDATOR, "POST", "/v1/completions", body, int(__import__("time").time()), MINER.pubkey)


def test_openai_client_lists_models_and_completes(open_server, engine, fingerprint):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=open_server.url + "/v1", api_key="unused")
    models = client.models.list().data
    assert [m.id for m in models] == [compute_model_id(fingerprint)]
    completion = client.completions.create(
        model=models[0].id, prompt="from email import ", max_tokens=12, temperature=0, logprobs=2
    )
    assert completion.system_fingerprint == fingerprint.hex()
    assert completion.usage.completion_tokens == 12 and completion.choices[0].finish_reason == "length"
    expected = engine.generate(encode_text("from email import "), 12, SamplingParams())
    assert completion.choices[0].text == expected.text
    assert completion.choices[0].logprobs.token_logprobs == pytest.approx(expected.logprobs, abs=1e-9)
    streamed = client.completions.create(
        model=models[0].id, prompt="from email import ", max_tokens=12, temperature=0, stream=True
    )
    chunks = list(streamed)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == expected.text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_openai_client_seeded_sampling_and_chat(open_server, engine):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=open_server.url + "/v1", api_key="unused")
    model = compute_model_id(engine.fingerprint)
    first = client.completions.create(model=model, prompt="class ", max_tokens=10, temperature=0.8, seed=5)
    again = client.completions.create(model=model, prompt="class ", max_tokens=10, temperature=0.8, seed=5)
    assert first.choices[0].text == again.choices[0].text
    assert first.model_extra["seed"] == 5
    chat = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=6, temperature=0
    )
    assert chat.choices[0].message.role == "assistant" and chat.usage.completion_tokens == 6
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=model, prompt="x" * 70, max_tokens=1)
    assert info.value.body["code"] == "prompt-too-long"
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-4", prompt="x", max_tokens=1)


def test_signed_request_is_served(signed_server, engine):
    body = body_for(engine)
    status, reply = post(signed_server.url, body, signed_headers(body))
    assert status == 200 and reply["usage"]["completion_tokens"] == 8


def test_unsigned_and_replayed_requests_are_refused(signed_server, engine):
    body = body_for(engine, max_tokens=4)
    status, reply = post(signed_server.url, body, {})
    assert (status, reply["error"]["code"]) == (401, "unsigned-request")
    headers = signed_headers(body)
    assert post(signed_server.url, body, headers)[0] == 200
    status, reply = post(signed_server.url, body, headers)
    assert (status, reply["error"]["code"]) == (401, "replayed-request")
    other = body_for(engine, max_tokens=5)
    status, reply = post(signed_server.url, other, headers)  # a signature for another body
    assert (status, reply["error"]["code"]) == (401, "bad-request-signature")


@pytest.mark.parametrize(
    "fields, status, reason",
    [
        (dict(prompt="x" * 64), 400, "prompt-too-long"),
        (dict(prompt="x" * 60, max_tokens=8), 400, "context-overflow"),
        (dict(max_tokens=65), 400, "max-tokens-too-large"),
        (dict(n=2), 400, "unsupported-parameter"),
        (dict(model="other"), 404, "model-not-found"),
        (dict(prompt="x" * 5000), 413, "body-too-large"),
    ],
)
def test_bad_requests_are_refused(signed_server, engine, fields, status, reason):
    body = body_for(engine, **fields)
    got, reply = post(signed_server.url, body, signed_headers(body))
    assert (got, reply["error"]["code"]) == (status, reason)


def test_rate_limit(engine):
    config = ServerConfig(hotkey=MINER.pubkey, rate=0.01, burst=2)
    with BackgroundServer(InferenceServer(engine, config)) as running:
        codes = []
        for _ in range(3):
            body = body_for(engine, max_tokens=1)
            status, reply = post(running.url, body, signed_headers(body))
            codes.append(reply["error"]["code"] if status != 200 else status)
    assert codes == [200, 200, "rate-limited"]


def test_signed_client_stream_and_verify(signed_server, engine, fingerprint):
    """What a validator does: a signed, streamed, seeded request, reassembled and verified."""
    params = SamplingParams(0.9, 20, 0.9, 77)
    prompt = encode_text("def parse(self, line):\n    ")

    async def exchange(stream: bool):
        async with aiohttp.ClientSession() as session:
            client = MinerClient(session, VALIDATOR)
            body = {
                "model": fingerprint.hex(),
                "prompt": list(prompt),
                "max_tokens": 16,
                "temperature": 0.9,
                "top_k": 20,
                "top_p": 0.9,
                "seed": 77,
                "logprobs": 0,
                "stream": stream,
            }
            return await client.complete(signed_server.url, body, MINER.pubkey)

    streamed, whole = asyncio.run(exchange(True)), asyncio.run(exchange(False))
    assert streamed.error is None and whole.error is None
    claims = [parse_claim(prompt, 16, params, e.response) for e in (streamed, whole)]
    assert claims[0].tokens == claims[1].tokens and claims[0].logprobs == claims[1].logprobs
    assert 0 < streamed.first_token_s <= streamed.total_s
    for claim in claims:
        assert verify_completion(engine, claim, fingerprint).ok
