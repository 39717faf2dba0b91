"""hashgrad's blocks: Bitcoin's 80-byte header, an optional AuxPoW proof, then the transactions.

Encoding: header (80) | CAuxPow (only when the header carries the AuxPoW flag) | CompactSize count |
transactions. The header's Merkle root is Bitcoin's Merkle root over the txids.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from hashgrad.chain.auxpow import AuxPow, read_auxpow
from hashgrad.chain.encoding import ByteReader, encode_compact_size
from hashgrad.chain.header import HEADER_SIZE, BlockHeader
from hashgrad.chain.merkle import compute_merkle_root
from hashgrad.chain.tx import Transaction, read_transaction
from hashgrad.errors import BlockError, DecodeError

MAX_BLOCK_TXS = 100_000


@dataclass(frozen=True)
class Block:
    header: BlockHeader
    txs: tuple[Transaction, ...]
    auxpow: AuxPow | None = None  # when header.is_auxpow()

    @property
    def hash(self) -> bytes:
        return self.header.hash

    def serialize(self) -> bytes:
        parts = [self.header.serialize()]
        if self.auxpow is not None:
            parts.append(self.auxpow.serialize())
        parts.append(encode_compact_size(len(self.txs)))
        parts += [tx.serialize() for tx in self.txs]
        return b"".join(parts)

    @cached_property
    def size(self) -> int:
        return len(self.serialize())

    def compute_merkle_root(self) -> tuple[bytes, bool]:
        return compute_merkle_root([tx.txid for tx in self.txs])


def parse_block(data: bytes, max_size: int) -> Block:
    """Decode a block, refusing more than max_size bytes before looking inside."""
    if len(data) > max_size:
        raise BlockError("bad-blk-length", f"{len(data)} bytes is over the {max_size}-byte limit")
    if len(data) < HEADER_SIZE:
        raise DecodeError("bad-blk-length", "shorter than a header")
    reader = ByteReader(data)
    header = BlockHeader.deserialize(reader.read(HEADER_SIZE))
    auxpow = None
    if header.is_auxpow():
        auxpow = read_auxpow(reader)
    count = reader.read_compact_size(MAX_BLOCK_TXS)
    txs = tuple(read_transaction(reader) for _ in range(count))
    reader.check_done()
    block = Block(header, txs, auxpow)
    block.__dict__["size"] = len(data)
    return block
