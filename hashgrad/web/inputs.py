"""Validation of everything a browser sends to the explorer: path segments and query values.

Each `parse_*` takes the raw text and returns the typed value, or raises HashgradError with a stable
reason (`bad-hash`, `bad-height`, `bad-address`, `bad-job`...) that the server answers as HTTP 400
`{"error": reason}`. Lengths are checked before any other work, so a huge input costs nothing.
"""

from __future__ import annotations

import re

from hashgrad.chain.bech32 import decode_address
from hashgrad.chain.encoding import is_hex, parse_hex
from hashgrad.chain.jobs import MAX_JOB_ID
from hashgrad.chain.keys import is_valid_pubkey
from hashgrad.chain.params import ChainParams
from hashgrad.errors import HashgradError

MAX_HEIGHT = 2**31 - 1
MAX_EPOCH = 2**32 - 1
MAX_BLOCKS_PER_PAGE = 50
MAX_ADDRESS_CHARS = 90
MAX_QUERY_CHARS = 100

_UINT_RE = re.compile(r"[0-9]{1,10}")


def parse_hash(text: str, what: str = "hash") -> str:
    """A 64-hex-digit hash (display order), lower-cased."""
    return parse_hex(text, what, size=32, reason="bad-hash", error=HashgradError).hex()


def parse_uint(text: str, what: str, low: int, high: int, reason: str) -> int:
    """A decimal integer in [low, high] (digits only: no sign, spaces or exponent)."""
    if not isinstance(text, str) or not _UINT_RE.fullmatch(text):
        raise HashgradError(reason, f"{what} must be a decimal integer")
    value = int(text)
    if not low <= value <= high:
        raise HashgradError(reason, f"{what} must be in [{low}, {high}]")
    return value


def parse_height(text: str, what: str = "height") -> int:
    return parse_uint(text, what, 0, MAX_HEIGHT, "bad-height")


def parse_count(text: str | None, default: int) -> int:
    if text is None:
        return default
    return parse_uint(text, "count", 1, MAX_BLOCKS_PER_PAGE, "bad-count")


def parse_block_ref(text: str) -> str | int:
    """A block named by its hash (str) or by its height on the active chain (int)."""
    if isinstance(text, str) and len(text) == 64:
        return parse_hash(text, "block hash")
    if isinstance(text, str) and _UINT_RE.fullmatch(text):
        return parse_height(text)
    raise HashgradError("bad-block-ref", "a block is named by a 64-hex-digit hash or a height")


def parse_address(text: str, params: ChainParams) -> str:
    """An account address of this network holding a valid public key; returned as given (lower-case)."""
    if not isinstance(text, str) or len(text) > MAX_ADDRESS_CHARS:
        raise HashgradError("bad-address", f"an address is at most {MAX_ADDRESS_CHARS} characters")
    try:
        pubkey = decode_address(params.hrp, text)
    except HashgradError as exc:
        raise HashgradError("bad-address", f"not a {params.name} address: {exc.detail or exc.reason}") from None
    if not is_valid_pubkey(pubkey):
        raise HashgradError("bad-address", "the address does not hold a valid public key")
    return text.lower()


def parse_job(text: str, params: ChainParams) -> int:
    """The id of one of this network's jobs."""
    job_id = parse_uint(text, "job", 0, MAX_JOB_ID, "bad-job")
    if job_id not in {job.job_id for job in params.jobs}:
        raise HashgradError("bad-job", f"{params.name} has no job {job_id}")
    return job_id


def parse_epoch(text: str) -> int:
    return parse_uint(text, "epoch", 0, MAX_EPOCH, "bad-epoch")


def classify_query(text: str, params: ChainParams) -> tuple[str, str | int]:
    """What a search box entry names: ("height", int), ("hash", str) for a block or txid, or ("address", str)."""
    if not isinstance(text, str) or not 0 < len(text.strip()) <= MAX_QUERY_CHARS:
        raise HashgradError(
            "bad-query", f"search for a height, a 64-hex-digit hash or an address (1 to {MAX_QUERY_CHARS} characters)"
        )
    text = text.strip()
    if _UINT_RE.fullmatch(text):
        return "height", parse_height(text)
    if len(text) == 64 and is_hex(text):
        return "hash", text.lower()
    if text.lower().startswith(params.hrp + "1"):
        return "address", parse_address(text, params)
    raise HashgradError("bad-query", f"not a height, a 64-hex-digit hash or a {params.name} address ({params.hrp}1...)")
