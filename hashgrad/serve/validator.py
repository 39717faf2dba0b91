"""The inference validator (job 1): challenge miners, verify their answers, score them, set weights.

    challenges  compute_challenges(seed, texts, n, context): prompts cut from held-out corpus text at
                line starts, with lengths, sampling settings (greedy or seeded temperature/top-k/
                top-p) and streaming drawn from the seed, like ordinary traffic; per miner the
                seed is (round seed, miner hotkey), so miners cannot pool answers.
    query       each miner gets its challenges as hotkey-signed requests (client.MinerClient).
    verify      verify.verify_completion: one forward pass per answer.
    score       compute_scores: correctness is a gate (one failed verification → 0), then
                availability × (¼ + ¾ × (½ latency term + ½ throughput term)), each term relative
                to the round's best miner; the ¼ base keeps timing noise from swinging the
                weights of equally honest miners too far.
    weights     incentive.convert.compute_weights_from_scores: scores → u16, max-upscaled, sorted by
                uid, ready for chain.coordination_make.make_commit_weights / make_reveal_weights.

The scoring and weights are pure; `run_validation_round` is the thin async shell the validator
process (or the devnet) calls once per epoch. A model with a tokenizer is challenged the same way:
prompts are cut from the held-out text, tokenized with the model's tokenizer and sent as token ids
(so that the prompt the server runs is exactly the one the validator recomputes).
"""

from __future__ import annotations

import asyncio
import ipaddress
import statistics
import time
from dataclasses import dataclass, field

import aiohttp

from hashgrad.chain.keys import SigningKey
from hashgrad.errors import ProtocolError
from hashgrad.incentive.convert import compute_weights_from_scores
from hashgrad.serve.client import Exchange, MinerClient, parse_claim
from hashgrad.serve.codec import BYTE_CODEC, ServeCodec
from hashgrad.serve.engine import SamplingParams, decode_text
from hashgrad.serve.protocol import compute_model_id
from hashgrad.serve.verify import Verdict, verify_completion
from hashgrad.work.hashing import HashStream, compute_seed

SPEED_BASE = 0.25  # share of the score a verified, available miner gets whatever its speed
MIN_PROMPT = 8
MAX_CHALLENGE_TOKENS = 48
TEMPERATURES = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1)
TOP_KS = (0, 0, 20, 40)
TOP_PS = (1.0, 1.0, 0.9, 0.95)


@dataclass(frozen=True)
class Challenge:
    prompt: tuple[int, ...]
    max_tokens: int
    params: SamplingParams
    stream: bool
    as_token_ids: bool = False  # send the prompt as token ids (a tokenizer's text may not re-encode the same)

    def to_body(self, model: str) -> dict:
        """The request body: an ordinary completion request (always asking for log-probabilities)."""
        prompt = list(self.prompt) if self.as_token_ids else decode_text(self.prompt)
        body = {
            "model": model,
            "prompt": prompt,
            "max_tokens": self.max_tokens,
            "temperature": self.params.temperature,
            "logprobs": 0,
            "stream": self.stream,
        }
        if not self.params.is_greedy:
            body |= {"seed": self.params.seed, "top_p": self.params.top_p}
            if self.params.top_k:
                body["top_k"] = self.params.top_k
        return body


def compute_challenges(
    seed: bytes, texts: list[bytes], count: int, context: int, codec: ServeCodec = BYTE_CODEC
) -> list[Challenge]:
    """`count` challenges from held-out texts, a pure function of the seed."""
    if not texts or context < 2 * MIN_PROMPT:
        raise ProtocolError("no-challenge-text", "need held-out text and a context of at least 16")
    stream = HashStream(seed)
    return [compute_challenge(stream, texts, context, codec) for _ in range(count)]


def compute_challenge(
    stream: HashStream, texts: list[bytes], context: int, codec: ServeCodec = BYTE_CODEC
) -> Challenge:
    max_tokens = MIN_PROMPT + stream.next_below(min(MAX_CHALLENGE_TOKENS, context // 2) - MIN_PROMPT + 1)
    length = MIN_PROMPT + stream.next_below(context - max_tokens - MIN_PROMPT + 1)
    text = texts[stream.next_below(len(texts))]
    start = stream.next_below(max(1, len(text) - length))
    newline = text.find(b"\n", start, start + length)
    start = newline + 1 if newline >= 0 and len(text) - newline - 1 >= MIN_PROMPT else start
    # cut on character boundaries so the prompt is the UTF-8 text a user would send
    prompt = codec.encode(text[start : start + length].decode("utf-8", errors="ignore"))[:length]
    if len(prompt) < 1:
        prompt = codec.encode("\n")
    if stream.next_below(2) == 0:
        params = SamplingParams()
    else:
        params = SamplingParams(
            TEMPERATURES[stream.next_below(len(TEMPERATURES))],
            TOP_KS[stream.next_below(len(TOP_KS))],
            TOP_PS[stream.next_below(len(TOP_PS))],
            stream.next_u64() >> 1,
        )
    return Challenge(prompt, max_tokens, params, stream.next_below(2) == 0, not codec.is_bytes)


# ----------------------------------------------------------------------------- scoring (pure)
@dataclass(frozen=True)
class Outcome:
    """One challenge answered (or not) by one miner."""

    verdict: str  # "ok", a verification reason code, or "error: ..." when no answer came back
    tokens: int = 0
    first_token_s: float = 0.0
    total_s: float = 0.0
    verify_s: float = 0.0  # what checking it cost the validator
    streamed: bool = False  # first_token_s is a true time to first token only when streamed

    @property
    def is_ok(self) -> bool:
        return self.verdict == "ok"

    @property
    def is_cheat(self) -> bool:
        return not self.is_ok and not self.verdict.startswith("error")


@dataclass(frozen=True)
class MinerStats:
    gate: float  # 0 if any answer failed verification
    availability: float  # share of challenges answered and verified
    latency_s: float  # median time to first token over verified streamed answers (inf if none)
    tokens_per_s: float  # verified tokens / time spent on them


def compute_miner_stats(outcomes: list[Outcome]) -> MinerStats:
    if not outcomes:
        return MinerStats(0.0, 0.0, float("inf"), 0.0)
    ok = [o for o in outcomes if o.is_ok]
    gate = 0.0 if any(o.is_cheat for o in outcomes) else 1.0
    timed = [o for o in ok if o.streamed] or ok
    latency = statistics.median(o.first_token_s for o in timed) if timed else float("inf")
    seconds = sum(o.total_s for o in ok)
    throughput = sum(o.tokens for o in ok) / seconds if seconds > 0 else 0.0
    return MinerStats(gate, len(ok) / len(outcomes), latency, throughput)


def compute_scores(outcomes: dict[int, list[Outcome]]) -> dict[int, float]:
    """uid → score in [0, 1]: gate × availability × (base + (1 - base) × speed), where speed is
    ½ best latency / latency + ½ throughput / best throughput."""
    stats = {uid: compute_miner_stats(rows) for uid, rows in outcomes.items()}
    eligible = [s for s in stats.values() if s.gate > 0 and s.availability > 0]
    best_latency = min((s.latency_s for s in eligible), default=float("inf"))
    best_throughput = max((s.tokens_per_s for s in eligible), default=0.0)
    scores = {}
    for uid, s in stats.items():
        if s.gate == 0 or s.availability == 0:
            scores[uid] = 0.0
            continue
        latency_term = min(1.0, best_latency / s.latency_s) if s.latency_s > 0 else 1.0
        throughput_term = s.tokens_per_s / best_throughput if best_throughput > 0 else 0.0
        speed = 0.5 * latency_term + 0.5 * throughput_term
        scores[uid] = s.gate * s.availability * (SPEED_BASE + (1 - SPEED_BASE) * speed)
    return scores


# ----------------------------------------------------------------------------- endpoints (pure)
def is_endpoint_allowed(endpoint: str, allow_private: bool) -> bool:
    """May a validator connect to this announced "host:port"? Only an IP literal with a port; a
    loopback, private, link-local or otherwise non-global address only where `allow_private` (regtest
    and devnet, which run on 127.0.0.1): elsewhere a miner could point validators at their own
    machine's or network's services."""
    if not isinstance(endpoint, str) or len(endpoint) > 64:
        return False
    host, _, port = endpoint.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or ip.is_multicast:
        return False
    return allow_private or ip.is_global


# ----------------------------------------------------------------------------- the round (shell)
@dataclass(frozen=True)
class MinerEndpoint:
    uid: int
    url: str
    hotkey: bytes


@dataclass
class RoundReport:
    weights: tuple[tuple[int, int], ...]
    scores: dict[int, float]
    outcomes: dict[int, list[Outcome]] = field(default_factory=dict)


def compute_outcome(engine, fingerprint: bytes, challenge: Challenge, exchange: Exchange) -> Outcome:
    """Verify one exchange (runs the model: call off the event loop)."""
    if exchange.response is None:
        return Outcome(f"error: {exchange.error}", 0, 0.0, exchange.total_s)
    try:
        claim = parse_claim(
            challenge.prompt,
            challenge.max_tokens,
            challenge.params,
            exchange.response,
            getattr(engine, "codec", BYTE_CODEC),
        )
    except ProtocolError as exc:
        return Outcome(exc.reason, 0, exchange.first_token_s, exchange.total_s)
    started = time.perf_counter()
    verdict: Verdict = verify_completion(engine, claim, fingerprint)
    return Outcome(
        verdict.reason,
        len(claim.tokens),
        exchange.first_token_s,
        exchange.total_s,
        time.perf_counter() - started,
        challenge.stream,
    )


async def query_miner(
    client: MinerClient, miner: MinerEndpoint, challenges: list[Challenge], model: str
) -> list[Exchange]:
    """A miner's challenges, one after another (a miner serves one generation at a time)."""
    return [await client.complete(miner.url, c.to_body(model), miner.hotkey) for c in challenges]


async def run_validation_round(
    miners: list[MinerEndpoint],
    engine,
    signer: SigningKey,
    seed: bytes,
    texts: list[bytes],
    challenges_per_miner: int = 4,
    timeout: float = 30.0,
) -> RoundReport:
    """Challenge every miner (concurrently), verify every answer, score, and turn scores into weights."""
    fingerprint = engine.fingerprint
    model = compute_model_id(fingerprint)
    plans = {
        m.uid: compute_challenges(
            compute_seed(seed, "serve-challenges", m.hotkey),
            texts,
            challenges_per_miner,
            engine.context,
            getattr(engine, "codec", BYTE_CODEC),
        )
        for m in miners
    }
    async with aiohttp.ClientSession() as session:
        client = MinerClient(session, signer, timeout)
        answers = await asyncio.gather(*(query_miner(client, m, plans[m.uid], model) for m in miners))
    outcomes = await asyncio.to_thread(verify_answers, engine, fingerprint, miners, plans, answers)
    scores = compute_scores(outcomes)
    return RoundReport(compute_weights_from_scores(scores), scores, outcomes)


def verify_answers(engine, fingerprint, miners, plans, answers) -> dict[int, list[Outcome]]:
    return {
        m.uid: [compute_outcome(engine, fingerprint, c, e) for c, e in zip(plans[m.uid], rows)]
        for m, rows in zip(miners, answers)
    }


def run_validation_round_blocking(*args, **kwargs) -> RoundReport:
    """The same round from synchronous code (validator loops are plain loops)."""
    return asyncio.run(run_validation_round(*args, **kwargs))


def get_heldout_texts(dataset, codec: ServeCodec = BYTE_CODEC) -> list[bytes]:
    """The held-out pages of a work dataset (never trained on): where challenge prompts come from
    (token pages are decoded to text with the model's tokenizer)."""
    if dataset.manifest.get("tokenizer", "bytes") == "bytes":
        return [bytes(dataset.pages[index].tolist()) for index in dataset.heldout_pages]
    return [codec.decode(dataset.pages[index].tolist()).encode("utf-8") for index in dataset.heldout_pages]
