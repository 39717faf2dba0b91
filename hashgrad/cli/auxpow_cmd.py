"""`hashgrad auxpow check FILE`: check merge-mined headers (ours or other chains') with hashgrad's AuxPoW rules.

FILE is a JSON list of items

    {"header": "<80-byte hex>", "auxpow": "<CAuxPow hex>" | null, "chain_id": N,
     "parent_pow": "sha256d" | "scrypt"}

(`auxpow` null or absent: a plain block; `parent_pow` sha256d when absent; scrypt exists only so
real Dogecoin samples can be checked). Each item is judged against its own chain ID and its own
header's nBits, with the largest target compact nBits can express as powLimit. One JSON line per
item: `{"hash", "parent_hash", "valid", "reason"}` (`parent_hash` is the parent header's SHA256d
id, null without an auxpow). Exit codes: 0 all valid, 1 some invalid, 2 the file itself is unusable.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from hashgrad.chain.auxpow import MAX_AUXPOW_SIZE, PARENT_POW_ALGOS, AuxPow, check_block_proof, parse_auxpow
from hashgrad.chain.encoding import parse_hex
from hashgrad.chain.header import HEADER_SIZE, BlockHeader
from hashgrad.chain.params import HASHGRAD_MAIN, ChainParams, PowParams
from hashgrad.errors import HashgradError

MAX_CHECK_FILE = 16 * 1024 * 1024
MAX_ITEMS = 100_000
MAX_CHAIN_ID = 0x7FFF  # the high 16 bits of a positive int32 version
MAX_COMPACT_TARGET = (1 << 256) - 1  # every non-overflowing compact value is at most this
ITEM_KEYS = {"header", "auxpow", "chain_id", "parent_pow"}
EXIT_ALL_VALID, EXIT_SOME_INVALID, EXIT_BAD_FILE = 0, 1, 2


@dataclass(frozen=True)
class CheckItem:
    header_hex: str
    auxpow_hex: str | None
    chain_id: int
    parent_pow: str


def register(subparsers) -> None:
    parser = subparsers.add_parser("auxpow", help="check merge-mined (AuxPoW) headers")
    commands = parser.add_subparsers(dest="auxpow_command", metavar="ACTION", required=True)
    check = commands.add_parser("check", help="check a JSON list of headers with their auxpow")
    check.add_argument("file", type=Path)
    check.set_defaults(func=run_check)


def run_check(args) -> int:
    try:
        items = load_items(args.file)
    except HashgradError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_FILE
    all_valid = True
    for item in items:
        result = check_item(item)
        all_valid = all_valid and result["valid"]
        print(json.dumps(result))
    return EXIT_ALL_VALID if all_valid else EXIT_SOME_INVALID


def load_items(path: Path) -> list[CheckItem]:
    """Read and shape-check the file; content errors (hex, bytes) are left to each item's verdict."""
    try:
        size = path.stat().st_size
        if size > MAX_CHECK_FILE:
            raise HashgradError("file-too-large", f"{path} has {size} bytes, over {MAX_CHECK_FILE}")
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise HashgradError("file-unreadable", f"{path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise HashgradError("bad-json", f"{path} is not UTF-8") from exc
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError also covers over-long integer literals
        raise HashgradError("bad-json", f"{path}: {exc}") from exc
    if not isinstance(data, list) or not data:
        raise HashgradError("bad-item", "the file must hold a non-empty JSON list")
    if len(data) > MAX_ITEMS:
        raise HashgradError("bad-item", f"{len(data)} items, at most {MAX_ITEMS}")
    return [read_item(i, raw) for i, raw in enumerate(data)]


def read_item(index: int, raw) -> CheckItem:
    where = f"item {index}"
    if not isinstance(raw, dict):
        raise HashgradError("bad-item", f"{where} is not an object")
    unknown = set(raw) - ITEM_KEYS
    if unknown:
        raise HashgradError("bad-item", f"{where} has unknown keys {sorted(unknown)}")
    header_hex, auxpow_hex = raw.get("header"), raw.get("auxpow")
    chain_id, parent_pow = raw.get("chain_id"), raw.get("parent_pow", "sha256d")
    if not isinstance(header_hex, str):
        raise HashgradError("bad-item", f"{where}: 'header' must be a hex string")
    if auxpow_hex is not None and not isinstance(auxpow_hex, str):
        raise HashgradError("bad-item", f"{where}: 'auxpow' must be a hex string or null")
    if type(chain_id) is not int or not 0 <= chain_id <= MAX_CHAIN_ID:
        raise HashgradError("bad-item", f"{where}: 'chain_id' must be an integer in 0..{MAX_CHAIN_ID}")
    if parent_pow not in PARENT_POW_ALGOS:
        raise HashgradError("bad-item", f"{where}: 'parent_pow' must be one of {list(PARENT_POW_ALGOS)}")
    return CheckItem(header_hex, auxpow_hex, chain_id, parent_pow)


def compute_checker_params(chain_id: int) -> ChainParams:
    """Parameters for judging another chain's block: its chain ID, auxpow always active, any target."""
    return replace(
        HASHGRAD_MAIN,
        name="auxpow-check",
        chain_id=chain_id,
        pow=PowParams(pow_limit=MAX_COMPACT_TARGET),
        auxpow_start_height=0,
        allow_own_pow=True,
    )


def check_item(item: CheckItem) -> dict:
    verdict: dict[str, object] = {"hash": None, "parent_hash": None, "valid": False, "reason": None}
    try:
        header = BlockHeader.deserialize(
            parse_hex(item.header_hex, "header", max_size=HEADER_SIZE, length_reason="bad-header-length")
        )
        verdict["hash"] = header.hash_hex
        auxpow: AuxPow | None = None
        if item.auxpow_hex is not None:
            auxpow = parse_auxpow(
                parse_hex(item.auxpow_hex, "auxpow", max_size=MAX_AUXPOW_SIZE, length_reason="bad-auxpow-length")
            )
            verdict["parent_hash"] = auxpow.parent_header.hash_hex
        check_block_proof(header, auxpow, compute_checker_params(item.chain_id), 0, item.parent_pow)
    except HashgradError as exc:
        verdict["reason"] = exc.reason
        return verdict
    verdict["valid"] = True
    return verdict
