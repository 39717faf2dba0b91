"""`hashgrad btc ...`: follow Bitcoin's own data with hashgrad's consensus primitives.

    hashgrad btc verify-headers FILE [--network main|test] [--start-height H]
    hashgrad btc verify-block FILE

FILE may be gzip-compressed (`NAME.gz`).

The last line printed is JSON, so scripts can read the result; the exit code is 0 on success and
1 on the first invalid header or block (with Bitcoin Core's reason code).
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from pathlib import Path

from hashgrad.chain.btc_headers import verify_bitcoin_headers
from hashgrad.chain.btc_tx import check_bitcoin_block_merkle, check_witness_commitment, parse_bitcoin_block
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.header import HEADER_SIZE, iter_headers
from hashgrad.chain.params import BITCOIN_NETWORKS
from hashgrad.errors import HashgradError

MAX_HEADERS_FILE = 1_000_000 * HEADER_SIZE
MAX_BLOCK_FILE = 4_000_000


def register(subparsers) -> None:
    parser = subparsers.add_parser("btc", help="verify Bitcoin headers and blocks with hashgrad's rules")
    commands = parser.add_subparsers(dest="btc_command", metavar="ACTION", required=True)
    headers = commands.add_parser("verify-headers", help="verify raw concatenated 80-byte Bitcoin headers")
    headers.add_argument("file", type=Path)
    headers.add_argument("--network", choices=["main", "test"], default="main")
    headers.add_argument(
        "--start-height",
        type=int,
        default=0,
        help="height of the first header; above 0 its prev hash and bits are trusted",
    )
    headers.set_defaults(func=run_verify_headers)
    block = commands.add_parser("verify-block", help="verify a raw Bitcoin block's Merkle root and witness commitment")
    block.add_argument("file", type=Path)
    block.set_defaults(func=run_verify_block)


def read_limited(path: Path, limit: int) -> bytes:
    """The file's bytes, at most `limit` of them; a `.gz` file is decompressed, within the same limit."""
    try:
        if path.suffix == ".gz":
            return read_gzip_limited(path, limit)
        size = path.stat().st_size
        if size > limit:
            raise HashgradError("file-too-large", f"{path} has {size} bytes, over {limit}")
        return path.read_bytes()
    except OSError as exc:
        raise HashgradError("file-unreadable", f"{path}: {exc.strerror or exc}") from exc


def read_gzip_limited(path: Path, limit: int) -> bytes:
    """A gzip file's content, read in bounded steps so that a gzip bomb stops at `limit` bytes."""
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise HashgradError("file-unreadable", f"{path}: not a valid gzip file ({exc})") from exc
    if len(data) > limit:
        raise HashgradError("file-too-large", f"{path} holds over {limit} bytes once decompressed")
    return data


def run_verify_headers(args) -> int:
    if args.start_height < 0:
        raise HashgradError("bad-start-height", "the start height cannot be negative")
    data = read_limited(args.file, MAX_HEADERS_FILE)
    if not data or len(data) % HEADER_SIZE:
        raise HashgradError("bad-header-length", f"{args.file}: {len(data)} bytes is not a positive multiple of 80")
    started = time.perf_counter()
    result = verify_bitcoin_headers(
        BITCOIN_NETWORKS[args.network], iter_headers(data), args.start_height, now=int(time.time())
    )
    elapsed = time.perf_counter() - started
    count = len(data) // HEADER_SIZE
    if not result.ok:
        print(json.dumps({"height": result.height, "reason": result.reason}))
        return 1
    print(f"verified {count} headers in {elapsed:.2f} s ({count / max(elapsed, 1e-9):,.0f}/s)")
    print(json.dumps({"height": result.height, "tip": result.tip, "chainwork": hex(result.chainwork)}))
    return 0


def run_verify_block(args) -> int:
    data = read_limited(args.file, MAX_BLOCK_FILE)
    try:
        block = parse_bitcoin_block(data)
        root = check_bitcoin_block_merkle(block)
        check_witness_commitment(block)
    except HashgradError as exc:
        print(json.dumps({"reason": exc.reason, "detail": exc.detail}))
        return 1
    print(json.dumps({"hash": block.header.hash_hex, "txs": len(block.txs), "merkle_root": hash_to_display(root)}))
    return 0
