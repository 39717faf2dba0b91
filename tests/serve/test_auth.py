"""Hotkey-signed requests: what is accepted, and each way a request is refused (with its reason)."""

from __future__ import annotations

import pytest

from hashgrad.chain.keys import SigningKey
from hashgrad.errors import ProtocolError
from hashgrad.serve.auth import (
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIME,
    RequestVerifier,
    compute_request_message,
    sign_request,
)
from hashgrad.serve.limits import RateLimiter

CLIENT = SigningKey(bytes.fromhex("11" * 32))
SERVER = SigningKey(bytes.fromhex("22" * 32))
BODY = b'{"model":"m","prompt":"hi"}'
NOW = 1_800_000_000


def signed(now=NOW, body=BODY, target=SERVER.pubkey, key=CLIENT, path="/v1/completions"):
    return sign_request(key, "POST", path, body, now, target)


def check(verifier, headers, body=BODY, now=NOW, path="/v1/completions"):
    return verifier.check(headers, "POST", path, body, now)


def reason_of(fn) -> str:
    with pytest.raises(ProtocolError) as info:
        fn()
    return info.value.reason


def test_valid_request_returns_the_sender():
    assert check(RequestVerifier(own_hotkey=SERVER.pubkey), signed()) == CLIENT.pubkey


def test_message_binds_every_field():
    base = compute_request_message("POST", "/p", b"x", bytes(16), 5, bytes(32))
    assert base != compute_request_message("GET", "/p", b"x", bytes(16), 5, bytes(32))
    assert base != compute_request_message("POST", "/q", b"x", bytes(16), 5, bytes(32))
    assert base != compute_request_message("POST", "/p", b"y", bytes(16), 5, bytes(32))
    assert base != compute_request_message("POST", "/p", b"x", b"\1" * 16, 5, bytes(32))
    assert base != compute_request_message("POST", "/p", b"x", bytes(16), 6, bytes(32))
    assert base != compute_request_message("POST", "/p", b"x", bytes(16), 5, b"\1" * 32)


def test_unsigned_request_is_refused():
    assert reason_of(lambda: check(RequestVerifier(), {})) == "unsigned-request"


def test_changed_body_or_path_breaks_the_signature():
    verifier = RequestVerifier()
    assert reason_of(lambda: check(verifier, signed(), body=BODY + b" ")) == "bad-request-signature"
    assert reason_of(lambda: check(verifier, signed(), path="/v1/chat/completions")) == "bad-request-signature"
    headers = signed()
    headers[HEADER_SIGNATURE] = "zz" + headers[HEADER_SIGNATURE][2:]
    assert reason_of(lambda: check(verifier, headers)) == "bad-request-signature"
    headers = signed()
    headers[HEADER_TIME] = "-5"
    assert reason_of(lambda: check(verifier, headers)) == "bad-request-signature"


def test_stale_request_is_refused():
    verifier = RequestVerifier(window=60)
    assert reason_of(lambda: check(verifier, signed(now=NOW - 61))) == "stale-request"
    assert reason_of(lambda: check(verifier, signed(now=NOW + 61))) == "stale-request"
    assert check(verifier, signed(now=NOW - 60)) == CLIENT.pubkey


def test_replayed_request_is_refused_and_forgotten_after_the_window():
    verifier = RequestVerifier(window=60)
    headers = signed()
    check(verifier, headers)
    assert reason_of(lambda: check(verifier, headers, now=NOW + 30)) == "replayed-request"
    check(verifier, signed(now=NOW + 120), now=NOW + 120)  # purges the first nonce
    assert len(verifier._seen) == 1
    assert reason_of(lambda: check(verifier, headers, now=NOW + 120)) == "stale-request"


def test_same_nonce_from_another_hotkey_is_not_a_replay():
    verifier = RequestVerifier()
    nonce = bytes(16)
    check(verifier, sign_request(CLIENT, "POST", "/v1/completions", BODY, NOW, SERVER.pubkey, nonce))
    other = SigningKey(bytes.fromhex("33" * 32))
    assert (
        check(verifier, sign_request(other, "POST", "/v1/completions", BODY, NOW, SERVER.pubkey, nonce)) == other.pubkey
    )


def test_target_and_allow_list():
    verifier = RequestVerifier(own_hotkey=SERVER.pubkey, allowed=frozenset({SERVER.pubkey}))
    assert reason_of(lambda: check(verifier, signed(target=CLIENT.pubkey))) == "wrong-target"
    assert reason_of(lambda: check(verifier, signed())) == "not-allowed"
    verifier.set_allowed(frozenset({CLIENT.pubkey}))
    assert check(verifier, signed()) == CLIENT.pubkey


def test_replay_cache_is_bounded():
    verifier = RequestVerifier(max_entries=2)
    check(verifier, signed())
    check(verifier, signed())
    assert reason_of(lambda: check(verifier, signed())) == "replay-cache-full"
    headers = signed()
    headers[HEADER_NONCE] = "00"
    assert reason_of(lambda: check(verifier, headers)) == "bad-request-signature"


def test_rate_limiter_refills():
    limiter = RateLimiter(rate=2.0, burst=3.0)
    assert [limiter.is_allowed("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.is_allowed("b", 0.0)
    assert limiter.is_allowed("a", 0.5) and not limiter.is_allowed("a", 0.5)
    assert RateLimiter(rate=0, burst=0).is_allowed("a", 0.0)
