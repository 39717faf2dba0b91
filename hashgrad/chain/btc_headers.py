"""Following Bitcoin's header chain: linkage, proof of work, expected difficulty, version and
median-time-past for every header, with the chainwork of the result.

Pure: takes the headers, the network's parameters and an optional checkpoint (start height), returns
the verified tip or the first failure with Bitcoin Core's reason code. When the chain starts at a
checkpoint above genesis, the first header's prev hash and bits are trusted, median-time-past is
checked once 11 ancestors are known, and the testnet walk-back stops at the checkpoint. A retarget
whose window starts below the checkpoint cannot be checked and fails with `unknown-ancestor`, so a
checkpoint should be the first block of a 2016-block window.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashgrad.chain.difficulty import compute_next_walk_back_bits, compute_next_work_required
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.header import BlockHeader
from hashgrad.chain.params import MEDIAN_TIME_SPAN, BitcoinParams, PowParams
from hashgrad.chain.pow import check_proof_of_work, compute_block_proof, encode_compact
from hashgrad.chain.timing import check_header_time, compute_median_time_past
from hashgrad.errors import HeaderError


@dataclass(frozen=True)
class HeaderChainResult:
    height: int
    tip: str
    chainwork: int
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


class _Window:
    """Times and bits of the verified headers, indexed by height (the Ancestry protocol), with the
    testnet walk-back result of every height tracked as headers are appended."""

    def __init__(self, start_height: int, pow: PowParams):
        self.start = start_height
        self.interval = pow.adjustment_interval
        self.limit_bits = encode_compact(pow.pow_limit)
        self.times: list[int] = []
        self.bits: list[int] = []
        self.walk_back_bits: list[int] = []

    def append(self, header: BlockHeader) -> None:
        height = self.start + len(self.bits)
        before = self.walk_back_bits[-1] if self.walk_back_bits else header.bits  # stops at a checkpoint
        self.walk_back_bits.append(
            compute_next_walk_back_bits(before, height, header.bits, self.interval, self.limit_bits)
        )
        self.times.append(header.time)
        self.bits.append(header.bits)

    def time_at(self, height: int) -> int:
        if height < self.start:
            # A retarget needs the window's first block; below a checkpoint it is unknown.
            raise HeaderError("unknown-ancestor", f"time of height {height} is below the start height {self.start}")
        return self.times[height - self.start]

    def bits_at(self, height: int) -> int:
        return self.bits[max(height - self.start, 0)]

    def last_non_min_difficulty_bits_at(self, height: int) -> int:
        return self.walk_back_bits[max(height - self.start, 0)]


def check_header_version(params: BitcoinParams, header: BlockHeader, height: int) -> None:
    for minimum, activation in ((2, params.bip34_height), (3, params.bip66_height), (4, params.bip65_height)):
        if header.version < minimum and height >= activation:
            raise HeaderError(f"bad-version(0x{header.version & 0xFFFFFFFF:08x})", "obsolete version")


def verify_bitcoin_headers(
    params: BitcoinParams, headers, start_height: int = 0, now: int | None = None
) -> HeaderChainResult:
    """Verify consecutive headers starting at start_height; stop at the first invalid one."""
    pow = params.pow
    pow_limit = pow.pow_limit
    window = _Window(start_height, pow)
    chainwork = 0
    prev: BlockHeader | None = None
    height = start_height - 1
    for height, header in enumerate(headers, start_height):
        try:
            # Bitcoin Core checks proof of work (CheckBlockHeader) before linkage and context.
            check_proof_of_work(header.hash, header.bits, pow_limit)
            if prev is None:
                if start_height == 0 and header.hash_hex != params.genesis_hash_hex:
                    raise HeaderError("bad-genesis", "first header is not this network's genesis")
            else:
                check_linked_header(params, window, prev, header, height, now)
        except HeaderError as exc:
            tip = hash_to_display(prev.hash) if prev else ""
            return HeaderChainResult(height, tip, chainwork, exc.reason)
        window.append(header)
        chainwork += compute_block_proof(header.bits)
        prev = header
    if prev is None:
        raise HeaderError("no-headers", "nothing to verify")
    return HeaderChainResult(height, hash_to_display(prev.hash), chainwork)


def check_linked_header(
    params: BitcoinParams, window: _Window, prev: BlockHeader, header: BlockHeader, height: int, now: int | None
) -> None:
    if header.prev_hash != prev.hash:
        raise HeaderError("bad-prevblk", "previous block hash does not link")
    expected_bits = compute_next_work_required(params.pow, window, height - 1, header.time)
    if header.bits != expected_bits:
        raise HeaderError("bad-diffbits", f"incorrect proof of work: 0x{header.bits:08x} != 0x{expected_bits:08x}")
    known = len(window.times)
    if known >= MEDIAN_TIME_SPAN or window.start == 0:
        check_header_time(header.time, compute_median_time_past(window.times[-MEDIAN_TIME_SPAN:]), now)
    elif now is not None:
        check_header_time(header.time, -1, now)
    check_header_version(params, header, height)
