"""Hotkey-signed HTTP requests (Bittensor's dendrite → axon pattern, with Bitcoin's Schnorr keys).

A validator or gateway signs each request it sends to a miner with its hotkey. Five headers:

    X-Hashgrad-Hotkey     x-only public key, 64 hex
    X-Hashgrad-Nonce      16 random bytes, 32 hex
    X-Hashgrad-Time       unix seconds, decimal
    X-Hashgrad-Target     the miner's hotkey, 64 hex (all zeros when the sender does not know it)
    X-Hashgrad-Signature  BIP340 signature, 128 hex, over

    tagged_hash("hashgrad/serve/request",
                u8 len || method || u16 len || path || sha256(body) || nonce[16] || time u64 LE || target[32])

The server accepts a request if the signature verifies, its time is within ±window seconds of the
server's clock, its (hotkey, nonce) was not seen before (a replay cache that forgets entries once
their time has left the window), the target is the server's own hotkey (when it has one), and the
hotkey is allowed (when an allow-list, e.g. the job's registered validators, is set). Reason codes:
unsigned-request, bad-request-signature, stale-request, replayed-request, wrong-target, not-allowed,
replay-cache-full. Clocks are inputs (`now`), as everywhere in hashgrad's cores.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import struct
from dataclasses import dataclass

from hashgrad.chain.encoding import parse_hex
from hashgrad.chain.hashes import ZERO_HASH, tagged_hash
from hashgrad.chain.keys import SigningKey, is_valid_schnorr
from hashgrad.errors import DecodeError, ProtocolError

TAG_REQUEST = "hashgrad/serve/request"
HEADER_HOTKEY = "X-Hashgrad-Hotkey"
HEADER_NONCE = "X-Hashgrad-Nonce"
HEADER_TIME = "X-Hashgrad-Time"
HEADER_TARGET = "X-Hashgrad-Target"
HEADER_SIGNATURE = "X-Hashgrad-Signature"
NONCE_SIZE = 16
NO_TARGET = ZERO_HASH
DEFAULT_WINDOW = 60
MAX_REPLAY_ENTRIES = 1_000_000


@dataclass(frozen=True)
class SignedFields:
    hotkey: bytes
    nonce: bytes
    time: int
    target: bytes
    signature: bytes


def compute_request_message(method: str, path: str, body: bytes, nonce: bytes, time: int, target: bytes) -> bytes:
    """The 32-byte message a request signature covers."""
    method_bytes, path_bytes = method.upper().encode("ascii"), path.encode("utf-8")
    if len(method_bytes) > 255 or len(path_bytes) > 65535 or len(nonce) != NONCE_SIZE or len(target) != 32:
        raise ProtocolError("bad-request-signature", "field out of range")
    if not 0 <= time < 2**64:
        raise ProtocolError("bad-request-signature", "time out of range")
    data = (
        struct.pack("<B", len(method_bytes))
        + method_bytes
        + struct.pack("<H", len(path_bytes))
        + path_bytes
        + hashlib.sha256(body).digest()
        + nonce
        + struct.pack("<Q", time)
        + target
    )
    return tagged_hash(TAG_REQUEST, data)


def sign_request(
    key: SigningKey,
    method: str,
    path: str,
    body: bytes,
    now: int,
    target: bytes = NO_TARGET,
    nonce: bytes | None = None,
) -> dict[str, str]:
    """The signature headers for one request."""
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    signature = key.sign(compute_request_message(method, path, body, nonce, now, target))
    return {
        HEADER_HOTKEY: key.pubkey.hex(),
        HEADER_NONCE: nonce.hex(),
        HEADER_TIME: str(now),
        HEADER_TARGET: target.hex(),
        HEADER_SIGNATURE: signature.hex(),
    }


def parse_signed_fields(headers) -> SignedFields:
    """The five signature headers, decoded (ProtocolError unsigned-request / bad-request-signature)."""
    if headers.get(HEADER_HOTKEY) is None or headers.get(HEADER_SIGNATURE) is None:
        raise ProtocolError("unsigned-request", f"{HEADER_HOTKEY} and {HEADER_SIGNATURE} headers are required")
    try:
        hotkey = parse_hex(headers.get(HEADER_HOTKEY), HEADER_HOTKEY, size=32)
        nonce = parse_hex(headers.get(HEADER_NONCE), HEADER_NONCE, size=NONCE_SIZE)
        target = parse_hex(headers.get(HEADER_TARGET) or NO_TARGET.hex(), HEADER_TARGET, size=32)
        signature = parse_hex(headers.get(HEADER_SIGNATURE), HEADER_SIGNATURE, size=64)
        time_text = headers.get(HEADER_TIME) or ""
        if not (time_text.isascii() and time_text.isdigit() and len(time_text) <= 19):
            raise ValueError("time must be decimal unix seconds")
    except (DecodeError, ValueError) as exc:
        raise ProtocolError("bad-request-signature", f"malformed signature header: {exc}") from None
    return SignedFields(hotkey, nonce, int(time_text), target, signature)


class RequestVerifier:
    """Checks signed requests for one server: signature, time window, replay cache, target, allow-list."""

    def __init__(
        self,
        window: int = DEFAULT_WINDOW,
        own_hotkey: bytes | None = None,
        allowed: frozenset[bytes] | None = None,
        max_entries: int = MAX_REPLAY_ENTRIES,
    ):
        self.window = window
        self.own_hotkey = own_hotkey
        self.allowed = allowed
        self.max_entries = max_entries
        self._seen: set[bytes] = set()
        self._expiry: list[tuple[int, bytes]] = []  # min-heap of (time the entry may be forgotten, key)

    def set_allowed(self, allowed: frozenset[bytes] | None) -> None:
        """Replace the allow-list (e.g. after the metagraph changed); None allows every hotkey."""
        self.allowed = allowed

    def check(self, headers, method: str, path: str, body: bytes, now: int) -> bytes:
        """The sender's hotkey if the request may be served; raises ProtocolError otherwise."""
        fields = parse_signed_fields(headers)
        message = compute_request_message(method, path, body, fields.nonce, fields.time, fields.target)
        if not is_valid_schnorr(fields.hotkey, message, fields.signature):
            raise ProtocolError("bad-request-signature", "signature does not verify")
        if abs(now - fields.time) > self.window:
            raise ProtocolError("stale-request", f"request time {fields.time} is {now - fields.time} s from ours")
        if self.own_hotkey is not None and fields.target != self.own_hotkey:
            raise ProtocolError("wrong-target", "the request was signed for another server")
        if self.allowed is not None and fields.hotkey not in self.allowed:
            raise ProtocolError("not-allowed", "this hotkey may not use this server")
        self.remember(fields.hotkey + fields.nonce, fields.time, now)
        return fields.hotkey

    def remember(self, key: bytes, request_time: int, now: int) -> None:
        self.forget_expired(now)
        if key in self._seen:
            raise ProtocolError("replayed-request", "this nonce was already used")
        if len(self._seen) >= self.max_entries:
            raise ProtocolError("replay-cache-full", "too many requests in the time window")
        self._seen.add(key)
        heapq.heappush(self._expiry, (request_time + self.window, key))

    def forget_expired(self, now: int) -> None:
        """Drop nonces whose request time is out of the window: a replay of them is stale anyway."""
        while self._expiry and self._expiry[0][0] < now:
            _, key = heapq.heappop(self._expiry)
            self._seen.discard(key)
