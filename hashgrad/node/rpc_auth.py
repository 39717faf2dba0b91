"""Who may call the JSON-RPC server: the cookie, `--rpcuser/--rpcpassword` and `--rpcauth`, as bitcoind.

- The cookie `__cookie__:<64 hex>` in `DIR/.cookie`, written at start unless `--rpcpassword` is given
  (bitcoind writes no cookie then either).
- `--rpcuser U --rpcpassword P`: plain credentials.
- `--rpcauth U:SALT$HASH` (repeatable): the line Bitcoin Core's `share/rpcauth/rpcauth.py` prints, where
  HASH = hex(HMAC-SHA256(key=SALT as text, message=password)); the password itself is never stored.
Every comparison is constant-time. `compute_rpcauth` makes such a line (what `hashgrad rpcauth` prints).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from hashgrad.errors import HashgradError

RPCAUTH_LINE = re.compile(r"([^:$]+):([0-9a-fA-F]{1,128})\$([0-9a-fA-F]{64})")
MAX_AUTH_HEADER = 4096


@dataclass(frozen=True)
class RpcAuthEntry:
    user: str
    salt: str
    hmac_hex: str


@dataclass
class RpcCredentials:
    """Every pair that may log in; a request passes when any one matches."""

    cookie: str | None = None  # "__cookie__:<hex>"
    user: str | None = None
    password: str | None = None
    rpcauth: list[RpcAuthEntry] = field(default_factory=list)

    def is_authorized(self, header: str | None) -> bool:
        """True when the `Authorization: Basic ...` header carries credentials we accept."""
        pair = decode_basic_auth(header)
        if pair is None:
            return False
        user, password = pair
        given = f"{user}:{password}".encode()
        ok = False  # check every kind without an early exit, so timing tells nothing about which failed
        if self.cookie is not None:
            ok |= hmac.compare_digest(given, self.cookie.encode())
        if self.user is not None and self.password is not None:
            ok |= hmac.compare_digest(given, f"{self.user}:{self.password}".encode())
        for entry in self.rpcauth:
            ok |= is_rpcauth_match(entry, user, password)
        return ok


def parse_rpcauth(line: str) -> RpcAuthEntry:
    """`USER:SALT$HASH` as rpcauth.py prints it; HashgradError('bad-rpcauth') otherwise."""
    match = RPCAUTH_LINE.fullmatch(line.strip())
    if match is None:
        raise HashgradError("bad-rpcauth", "expected USER:SALT$HASH as printed by Bitcoin Core's rpcauth.py")
    return RpcAuthEntry(match.group(1), match.group(2), match.group(3).lower())


def compute_rpcauth_hmac(salt: str, password: str) -> str:
    return hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()


def is_rpcauth_match(entry: RpcAuthEntry, user: str, password: str) -> bool:
    same_user = hmac.compare_digest(user.encode(), entry.user.encode())
    same_hash = hmac.compare_digest(compute_rpcauth_hmac(entry.salt, password).encode(), entry.hmac_hex.encode())
    return same_user and same_hash


def compute_rpcauth(user: str, password: str | None = None) -> tuple[str, str]:
    """(rpcauth line, password) exactly as rpcauth.py makes them: 16-byte hex salt, 32-byte urlsafe password."""
    if password is None:
        password = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    salt = secrets.token_hex(16)
    return f"{user}:{salt}${compute_rpcauth_hmac(salt, password)}", password


def decode_basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or len(header) > MAX_AUTH_HEADER or not header.startswith("Basic "):
        return None
    try:
        text = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, password = text.partition(":")
    return (user, password) if sep else None
