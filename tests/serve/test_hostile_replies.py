"""A hostile inference miner cannot stop or blind the validator; fresh keys do not bypass the rate limit.

Real loopback HTTP: an aiohttp app plays the hostile miner; the validator's real MinerClient and
`compute_outcome` meet its replies. Before the fix a deeply nested reply raised RecursionError and
`"choices": [1]` in a stream raised AttributeError out of `complete`, and a stream was read whole.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web

from hashgrad.chain.keys import SigningKey
from hashgrad.errors import ProtocolError
from hashgrad.serve import client as client_mod
from hashgrad.serve.auth import sign_request
from hashgrad.serve.client import MinerClient, merge_stream
from hashgrad.serve.engine import SamplingParams
from hashgrad.serve.server import BackgroundServer, InferenceServer, ServerConfig
from hashgrad.serve.validator import Challenge, compute_outcome
from support.serve_http import body_for, post

DEEP = b"[" * 100_000 + b"]" * 100_000
PLAIN = {
    "deep": DEEP,
    "deep-object": b'{"choices":' * 50_000 + b"1" + b"}" * 50_000,
    "choices-int": b'{"choices":[1],"system_fingerprint":"00"}',
    "list": b"[1,2,3]",
    "huge-int": b'{"choices":[{"token_ids":[1' + b"0" * 5000 + b"]}]}",
    "nan": b'{"choices":[{"token_ids":[1],"text":"\\u0001","logprobs":{"token_logprobs":[NaN]}}],'
    b'"system_fingerprint":"00"}',
    "too-big": b'{"pad":"' + b"x" * (client_mod.MAX_RESPONSE_BYTES + 10) + b'"}',
}
STREAMS = {
    "stream-choices-int": b'data: {"choices":[1]}\n\ndata: [DONE]\n\n',
    "stream-deep": b"data: " + DEEP + b"\n\n",
    "stream-token-ids-int": b'data: {"choices":[{"token_ids":5}]}\n\n',
    "stream-text-list": b'data: {"choices":[{"text":[1]}]}\n\n',
    "stream-endless": None,  # many small lines past the byte cap
}


async def hostile_handler(request: web.Request) -> web.StreamResponse:
    kind = request.match_info["kind"]
    if kind in PLAIN:
        return web.Response(body=PLAIN[kind], content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    if STREAMS[kind] is not None:
        await response.write(STREAMS[kind])
        return response
    line = b"data: " + b"x" * 1000 + b"\n"
    for _ in range(client_mod.MAX_RESPONSE_BYTES // len(line) + 10):
        await response.write(line)
    return response


def run_exchanges(kinds: list[str], stream: bool) -> dict:
    async def main() -> dict:
        app = web.Application()
        app.router.add_post("/{kind}/v1/completions", hostile_handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with aiohttp.ClientSession() as session:
                client = MinerClient(session, None, timeout=30)
                return {k: await client.complete(f"http://127.0.0.1:{port}/{k}", {"stream": stream}) for k in kinds}
        finally:
            await runner.cleanup()

    return asyncio.run(main())


@pytest.mark.parametrize("stream", [False, True])
def test_hostile_replies_become_bad_response_outcomes(stream):
    kinds = sorted(STREAMS if stream else PLAIN)
    exchanges = run_exchanges(kinds, stream)
    challenge = Challenge((65, 66), 4, SamplingParams(), stream)
    for kind in kinds:
        exchange = exchanges[kind]
        outcome = compute_outcome(None, b"\x00" * 32, challenge, exchange)  # never reaches the engine
        assert not outcome.is_ok, kind
        if exchange.response is None:
            assert exchange.error.startswith("bad-response"), (kind, exchange.error)
        else:
            assert outcome.verdict == "bad-response", (kind, outcome.verdict)


@pytest.mark.parametrize(
    "lines",
    [
        [b'data: {"choices":[1]}'],
        [b'data: {"choices":{"a":1}}'],
        [b'data: {"choices":[{"token_ids":"ab"}]}'],
        [b'data: {"choices":[{"logprobs":{"token_logprobs":3}}]}'],
        [b"data: " + DEEP],
        [b"data: [1]"],
    ],
)
def test_merge_stream_raises_only_protocol_error(lines):
    with pytest.raises(ProtocolError) as exc:
        merge_stream(lines)
    assert exc.value.reason == "bad-response"


def test_fresh_hotkeys_do_not_bypass_the_rate_limit(engine):
    """Each request signed by a new key: the per-IP bucket refuses them all the same."""
    miner = SigningKey(bytes.fromhex("55" * 32))
    config = ServerConfig(hotkey=miner.pubkey, rate=0.01, burst=2, ip_factor=1.0)
    codes = []
    with BackgroundServer(InferenceServer(engine, config)) as running:
        for i in range(3):
            body = body_for(engine, max_tokens=1)
            fresh = SigningKey((i + 1).to_bytes(32, "big"))
            headers = sign_request(fresh, "POST", "/v1/completions", body, int(time.time()), miner.pubkey)
            status, reply = post(running.url, body, headers)
            codes.append(reply["error"]["code"] if status != 200 else status)
    assert codes == [200, 200, "rate-limited"]


def test_deeply_nested_request_body_is_a_400_not_a_500(engine):
    with BackgroundServer(InferenceServer(engine, ServerConfig(open_access=True))) as running:
        status, reply = post(running.url, b"[" * 100_000 + b"]" * 100_000 + b"", {})
    assert (status, reply["error"]["code"]) == (400, "bad-json")


def test_private_and_loopback_endpoints_are_refused_unless_the_network_is_local():
    from hashgrad.serve.validator import is_endpoint_allowed

    for endpoint in (
        "127.0.0.1:8000",
        "10.1.2.3:80",
        "192.168.1.1:8080",
        "169.254.169.254:80",
        "[::1]:80",
        "[::ffff:127.0.0.1]:80",
        "[fd00::1]:80",
    ):
        assert not is_endpoint_allowed(endpoint, allow_private=False), endpoint
        assert is_endpoint_allowed(endpoint, allow_private=True), endpoint
    assert is_endpoint_allowed("8.8.8.8:8000", False) and is_endpoint_allowed("[2001:4860::8888]:443", False)
    for bad in ("0.0.0.0:80", "224.0.0.1:80", "8.8.8.8:0", "8.8.8.8:70000", "8.8.8.8:８０", "example.com:80", "x" * 80):
        assert not is_endpoint_allowed(bad, True), bad


def test_validator_allow_list_holds_permitted_validators_only():
    from hashgrad.node.replies import Metagraph, Neuron
    from hashgrad.roles.inference import compute_validator_allow_list

    def neuron(uid: int, hotkey: bytes, permit: bool) -> Neuron:
        return Neuron(
            uid=uid,
            hotkey=hotkey,
            address="",
            coldkey="",
            stake=0,
            validator_permit=permit,
            consensus=0.0,
            incentive=0.0,
            incentive_u16=0,
            dividends=0.0,
            trust=0.0,
            emission=0,
            total_earned=0,
            epoch=-1,
            last_update=0,
            registration_height=0,
            endpoint=None,
        )

    metagraph = Metagraph(
        job=1, height=10, json={}, uids=(neuron(0, b"\xaa" * 32, True), neuron(1, b"\xbb" * 32, False))
    )
    assert compute_validator_allow_list(metagraph) == frozenset({b"\xaa" * 32})
