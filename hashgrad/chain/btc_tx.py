"""Bitcoin transactions and blocks as bytes: parsing (segwit included), txid/wtxid, and the block
body checks Bitcoin Core makes before script validation (Merkle root, CVE-2012-2459 mutation,
witness commitment). Used to follow Bitcoin and to check AuxPoW parent coinbases; hashgrad's own
transactions live in `chain/tx.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashgrad.chain.encoding import ByteReader, encode_compact_size, encode_var_bytes
from hashgrad.chain.hashes import ZERO_HASH, sha256d
from hashgrad.chain.header import HEADER_SIZE, BlockHeader
from hashgrad.chain.merkle import compute_merkle_root
from hashgrad.errors import BlockError, DecodeError

MAX_BTC_BLOCK_SERIALIZED = 4_000_000
WITNESS_COMMITMENT_PREFIX = bytes.fromhex("6a24aa21a9ed")


@dataclass(frozen=True)
class TxIn:
    prev_txid: bytes
    prev_index: int
    script_sig: bytes
    sequence: int
    witness: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class TxOut:
    value: int
    script_pubkey: bytes


@dataclass(frozen=True)
class BitcoinTx:
    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    locktime: int

    def has_witness(self) -> bool:
        return any(txin.witness for txin in self.inputs)

    def serialize(self, with_witness: bool = True) -> bytes:
        witness = with_witness and self.has_witness()
        parts = [self.version.to_bytes(4, "little", signed=True)]
        if witness:
            parts.append(b"\x00\x01")
        parts.append(encode_compact_size(len(self.inputs)))
        for txin in self.inputs:
            parts += [
                txin.prev_txid,
                txin.prev_index.to_bytes(4, "little"),
                encode_var_bytes(txin.script_sig),
                txin.sequence.to_bytes(4, "little"),
            ]
        parts.append(encode_compact_size(len(self.outputs)))
        for txout in self.outputs:
            parts += [txout.value.to_bytes(8, "little", signed=True), encode_var_bytes(txout.script_pubkey)]
        if witness:
            for txin in self.inputs:
                parts.append(encode_compact_size(len(txin.witness)))
                parts += [encode_var_bytes(item) for item in txin.witness]
        parts.append(self.locktime.to_bytes(4, "little"))
        return b"".join(parts)

    @property
    def txid(self) -> bytes:
        return sha256d(self.serialize(with_witness=False))

    @property
    def wtxid(self) -> bytes:
        return sha256d(self.serialize(with_witness=True))


def read_bitcoin_tx(reader: ByteReader) -> BitcoinTx:
    """Parse one transaction (BIP144 marker/flag for segwit) from the reader."""
    version = reader.read_i32()
    n_inputs = reader.read_compact_size()
    has_witness = False
    if n_inputs == 0:
        flag = reader.read_u8()
        if flag != 1:
            raise DecodeError("bad-txns-witness-flag", f"unknown segwit flag {flag}")
        has_witness = True
        n_inputs = reader.read_compact_size()
    raw_inputs = [
        (reader.read(32), reader.read_u32(), reader.read_var_bytes(), reader.read_u32()) for _ in range(n_inputs)
    ]
    outputs = tuple(TxOut(reader.read_i64(), reader.read_var_bytes()) for _ in range(reader.read_compact_size()))
    witnesses: list[tuple[bytes, ...]] = [()] * n_inputs
    if has_witness:
        witnesses = [tuple(reader.read_var_bytes() for _ in range(reader.read_compact_size())) for _ in range(n_inputs)]
        if not any(witnesses):
            raise DecodeError("bad-txns-witness-empty", "segwit marker with no witness data")
    inputs = tuple(TxIn(p[0], p[1], p[2], p[3], w) for p, w in zip(raw_inputs, witnesses))
    return BitcoinTx(version, inputs, outputs, reader.read_u32())


def parse_bitcoin_tx(data: bytes) -> BitcoinTx:
    reader = ByteReader(data)
    tx = read_bitcoin_tx(reader)
    reader.check_done()
    return tx


@dataclass(frozen=True)
class BitcoinBlock:
    header: BlockHeader
    txs: tuple[BitcoinTx, ...]


def parse_bitcoin_block(data: bytes) -> BitcoinBlock:
    if len(data) > MAX_BTC_BLOCK_SERIALIZED:
        raise BlockError("bad-blk-length", f"{len(data)} bytes is over {MAX_BTC_BLOCK_SERIALIZED}")
    if len(data) < HEADER_SIZE:
        raise DecodeError("bad-blk-length", "shorter than a header")
    reader = ByteReader(data)
    header = BlockHeader.deserialize(reader.read(HEADER_SIZE))
    count = reader.read_compact_size()
    txs = tuple(read_bitcoin_tx(reader) for _ in range(count))
    reader.check_done()
    if not txs:
        raise BlockError("bad-blk-length", "a block has at least its coinbase")
    return BitcoinBlock(header, txs)


def check_bitcoin_block_merkle(block: BitcoinBlock) -> bytes:
    """CheckMerkleRoot: the txid root matches the header and the list is not mutated."""
    root, mutated = compute_merkle_root([tx.txid for tx in block.txs])
    if root != block.header.merkle_root:
        raise BlockError("bad-txnmrklroot", "hashMerkleRoot mismatch")
    if mutated:
        raise BlockError("bad-txns-duplicate", "duplicate transaction")
    return root


def find_witness_commitment_index(coinbase: BitcoinTx) -> int | None:
    """GetWitnessCommitmentIndex: the last coinbase output that carries the segwit commitment."""
    found = None
    for i, txout in enumerate(coinbase.outputs):
        script = txout.script_pubkey
        if len(script) >= 38 and script[:6] == WITNESS_COMMITMENT_PREFIX:
            found = i
    return found


def check_witness_commitment(block: BitcoinBlock) -> None:
    """CheckWitnessMalleation: the coinbase commits to the wtxid root, or no transaction has witness."""
    coinbase = block.txs[0]
    index = find_witness_commitment_index(coinbase)
    if index is None:
        if any(tx.has_witness() for tx in block.txs):
            raise BlockError("unexpected-witness", "witness data without a commitment")
        return
    witness = coinbase.inputs[0].witness if coinbase.inputs else ()
    if len(witness) != 1 or len(witness[0]) != 32:
        raise BlockError("bad-witness-nonce-size", "coinbase witness reserved value must be one 32-byte item")
    wtxids = [ZERO_HASH] + [tx.wtxid for tx in block.txs[1:]]
    witness_root, _ = compute_merkle_root(wtxids)
    expected = sha256d(witness_root + witness[0])
    if coinbase.outputs[index].script_pubkey[6:38] != expected:
        raise BlockError("bad-witness-merkle-match", "witness merkle commitment mismatch")
