"""The gateway: how a user's request reaches the network's miners, and why the answer can be trusted.

A gateway knows a set of miners (URLs, and their hotkeys from `/v1/models`) and ranks them by the
incentive job 1's consensus gave them on chain (equal ranks without a node). For each request it
asks the best miner first, signed with the gateway's hotkey if it has one; with probability
`spot_check` it verifies the answer by recomputation (verify.py, one forward pass) when it holds
the checkpoint. A miner that errs or fails a check is set aside for the rest of the session and
the request falls back to the next one. Its requests look like a validator's (they always ask for
log-probabilities and name their seed), so a miner cannot serve validators honestly and users not.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import aiohttp

from hashgrad.chain.encoding import parse_hex
from hashgrad.chain.keys import SigningKey
from hashgrad.errors import HashgradError, ProtocolError
from hashgrad.serve.client import MinerClient, parse_claim
from hashgrad.serve.engine import MAX_SEED, SamplingParams, decode_text, encode_text
from hashgrad.serve.verify import verify_completion


@dataclass
class RoutedMiner:
    url: str
    hotkey: bytes | None = None
    incentive: float = 0.0
    model: str | None = None  # the model id it serves
    fingerprint: str | None = None
    set_aside: str | None = None  # why it is no longer asked


@dataclass(frozen=True)
class Attempt:
    url: str
    outcome: str  # "ok", "unverified", a verification reason, or "error: ..."


@dataclass(frozen=True)
class GatewayAnswer:
    text: str
    tokens: tuple[int, ...]
    url: str
    verified: bool
    seed: int
    fingerprint: str
    attempts: tuple[Attempt, ...] = field(default_factory=tuple)


def compute_route_order(miners: list[RoutedMiner]) -> list[RoutedMiner]:
    """Miners still trusted, by decreasing incentive (ties keep the given order)."""
    return sorted((m for m in miners if m.set_aside is None), key=lambda m: -m.incentive)


class Gateway:
    def __init__(
        self,
        miners: list[RoutedMiner],
        engine=None,
        signer: SigningKey | None = None,
        spot_check: float = 1.0,
        timeout: float = 60.0,
        rng: random.Random | None = None,
    ):
        self.miners = miners
        self.engine = engine
        self.signer = signer
        self.spot_check = spot_check
        self.timeout = timeout
        self.rng = rng or random.Random()

    async def discover(self, session: aiohttp.ClientSession) -> None:
        """Ask each miner what it serves (model id, checkpoint hash, hotkey); unreachable ones are set aside."""
        client = MinerClient(session, self.signer, self.timeout)
        for miner in self.miners:
            try:
                entry = (await client.get_models(miner.url))["data"][0]
                miner.model, miner.fingerprint = entry["id"], entry.get("checkpoint")
                miner.hotkey = parse_hex(entry["hotkey"], "hotkey", size=32) if entry.get("hotkey") else miner.hotkey
            except (HashgradError, aiohttp.ClientError, OSError, KeyError, IndexError, TypeError, ValueError) as exc:
                miner.set_aside = f"error: discovery failed ({type(exc).__name__})"
            if self.engine is not None and miner.fingerprint not in (None, self.engine.fingerprint.hex()):
                miner.set_aside = "wrong-model"

    async def complete(self, prompt: str, max_tokens: int, params: SamplingParams) -> GatewayAnswer:
        """The first trusted answer among the ranked miners; ProtocolError no-miner-answered if none."""
        if not params.is_greedy:
            params = SamplingParams(
                params.temperature,
                params.top_k,
                params.top_p,
                params.seed or int.from_bytes(os.urandom(8), "little") & MAX_SEED,
            ).check()
        tokens = encode_text(prompt)
        attempts = []
        async with aiohttp.ClientSession() as session:
            if any(m.model is None for m in self.miners):
                await self.discover(session)
            client = MinerClient(session, self.signer, self.timeout)
            for miner in compute_route_order(self.miners):
                answer = await self.ask(client, miner, tokens, max_tokens, params)
                attempts.append(
                    Attempt(
                        miner.url, answer if isinstance(answer, str) else ("ok" if answer.verified else "unverified")
                    )
                )
                if not isinstance(answer, str):
                    return GatewayAnswer(
                        answer.text,
                        answer.tokens,
                        miner.url,
                        answer.verified,
                        params.seed,
                        answer.fingerprint,
                        tuple(attempts),
                    )
                miner.set_aside = answer
        raise ProtocolError("no-miner-answered", "; ".join(f"{a.url}: {a.outcome}" for a in attempts) or "no miners")

    async def ask(
        self, client: MinerClient, miner: RoutedMiner, tokens: tuple[int, ...], max_tokens: int, params: SamplingParams
    ):
        """One miner's answer as a GatewayAnswer, or the reason it is not acceptable."""
        body = {
            "model": miner.model,
            "prompt": decode_text(tokens),
            "max_tokens": max_tokens,
            "temperature": params.temperature,
            "logprobs": 0,
        }
        if not params.is_greedy:
            body |= {"seed": params.seed, "top_p": params.top_p, "top_k": params.top_k}
        exchange = await client.complete(miner.url, body, miner.hotkey)
        if exchange.response is None:
            return f"error: {exchange.error}"
        try:
            claim = parse_claim(tokens, max_tokens, params, exchange.response)
        except ProtocolError as exc:
            return exc.reason
        verified = False
        if self.engine is not None and self.rng.random() < self.spot_check:
            verdict = verify_completion(self.engine, claim, self.engine.fingerprint)
            if not verdict.ok:
                return verdict.reason
            verified = True
        return GatewayAnswer(
            exchange.response["choices"][0]["text"],
            claim.tokens,
            miner.url,
            verified,
            params.seed,
            claim.fingerprint.hex(),
        )
