"""AuxPoW (merged mining) in Namecoin's format: the CAuxPow structure and its consensus checks.

A merge-mined hashgrad block sets version bit 0x100 and carries, after its 80-byte header, the
proof that a parent-chain (Bitcoin) header committed to it: the parent's coinbase transaction,
the coinbase's Merkle branch up to the parent header, the branch of our block hash inside the
"chain Merkle tree" of every chain the pool merge-mines, and the parent header itself, whose hash
is the proof of work. Layout (namecoin-core `src/auxpow.h`, SERIALIZE_METHODS):

    coinbase tx (Bitcoin serialization, witness allowed) | hashBlock 32 (ignored) |
    coinbase branch (CompactSize n, n x 32) | coinbase index int32 |
    chain branch (CompactSize m, m x 32)    | chain index int32    | parent header 80

The rules mirror `CAuxPow::check` (namecoin-core `src/auxpow.cpp`) and the auxpow-aware
`CheckProofOfWork(const CBlockHeader&)` (namecoin-core `src/validation.cpp`). Reason codes:

    bad-chain-id                   the block's version does not carry our chain ID (strict chains)
    auxpow-before-start            an auxpow-flagged block below the activation height (or never active)
    auxpow-missing                 the version has the auxpow flag but no auxpow follows
    auxpow-unexpected              an auxpow follows a header without the auxpow flag
    own-pow-not-allowed            a plain (non-merge-mined) block where params forbid own PoW
    high-hash                      own hash (plain block) or parent PoW hash (auxpow) above our target
    auxpow-parent-has-auxpow       the parent header itself has the auxpow flag
    auxpow-coinbase-index          the coinbase branch index is not 0 (the coinbase is tx 0)
    auxpow-parent-chain-id         the parent header carries our chain ID
    auxpow-chain-branch-too-long   the chain Merkle branch has more than 30 entries
    auxpow-bad-merkle-root         coinbase txid + branch does not give the parent's Merkle root
    auxpow-coinbase-no-inputs      the parent coinbase has no input (so no scriptSig)
    auxpow-missing-root            the chain Merkle root (display order) is not in the scriptSig
    auxpow-multiple-headers        the fabe6d6d magic occurs more than once
    auxpow-header-not-before-root  the magic is not immediately before the chain Merkle root
    auxpow-root-too-late           no magic, and the root starts after byte 20 of the scriptSig
    auxpow-missing-size-nonce      fewer than 8 bytes (size, nonce) after the root
    auxpow-wrong-size              merkle size != 2^(chain branch length)
    auxpow-wrong-index             chain index != compute_expected_index(nonce, chain ID, height)

Decoding raises DecodeError: `bad-encoding` (truncated, trailing, non-canonical CompactSize),
`bad-auxpow-length` (over MAX_AUXPOW_SIZE), `bad-auxpow-branch-length` (over MAX_BRANCH_DECODE),
and the coinbase parser's `bad-txns-witness-flag` / `bad-txns-witness-empty`.

Two choices where Namecoin is looser: hashBlock is kept as read (Namecoin ignores it and writes
zero) so that `serialize(parse(x)) == x`; and a non-zero coinbase index is rejected (as Dogecoin,
libdohj and electrum-nmc do, and Namecoin did before it started ignoring the field), which keeps
one valid encoding of that field.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from hashgrad.chain.btc_tx import BitcoinTx, TxIn, TxOut, read_bitcoin_tx
from hashgrad.chain.encoding import ByteReader, encode_compact_size
from hashgrad.chain.hashes import ZERO_HASH
from hashgrad.chain.header import HEADER_SIZE, VERSION_CHAIN_START, BlockHeader
from hashgrad.chain.merkle import compute_merkle_branch, compute_merkle_root, compute_root_from_branch
from hashgrad.chain.params import ChainParams
from hashgrad.chain.pow import check_proof_of_work
from hashgrad.errors import DecodeError, HeaderError

MERGED_MINING_HEADER = b"\xfa\xbe\x6d\x6d"  # pchMergedMiningHeader: "\xfa\xbe" "mm"
MAX_CHAIN_MERKLE_HEIGHT = 30  # CAuxPow::check: "chain merkle branch too long"
MAX_ROOT_OFFSET_WITHOUT_MAGIC = 20  # legacy form: the root starts within the first 20 bytes
MAX_BRANCH_DECODE = 64  # a decode bound only: 2^64 leaves is beyond any real tree
MAX_AUXPOW_SIZE = 1_000_000  # an auxpow travels inside a block, whose size is bounded the same
PARENT_POW_ALGOS = ("sha256d", "scrypt")
_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class AuxPow:
    """Namecoin's CAuxPow. Hashes are in internal byte order, as serialized."""

    coinbase_tx: BitcoinTx
    parent_block_hash: bytes  # hashBlock: ignored by consensus, kept for a byte-exact round trip
    coinbase_branch: tuple[bytes, ...]
    coinbase_index: int
    chain_branch: tuple[bytes, ...]
    chain_index: int
    parent_header: BlockHeader

    def serialize(self) -> bytes:
        return b"".join(
            (
                self.coinbase_tx.serialize(with_witness=True),
                self.parent_block_hash,
                _encode_branch(self.coinbase_branch),
                struct.pack("<i", self.coinbase_index),
                _encode_branch(self.chain_branch),
                struct.pack("<i", self.chain_index),
                self.parent_header.serialize(),
            )
        )


def _encode_branch(branch: tuple[bytes, ...]) -> bytes:
    return encode_compact_size(len(branch)) + b"".join(branch)


def _read_branch(reader: ByteReader) -> tuple[bytes, ...]:
    count = reader.read_compact_size()
    if count > MAX_BRANCH_DECODE:
        raise DecodeError("bad-auxpow-branch-length", f"{count} branch entries, at most {MAX_BRANCH_DECODE}")
    return tuple(reader.read(32) for _ in range(count))


def read_auxpow(reader: ByteReader) -> AuxPow:
    """Read one CAuxPow from the reader (which is left just after the parent header)."""
    coinbase_tx = read_bitcoin_tx(reader)
    parent_block_hash = reader.read(32)
    coinbase_branch = _read_branch(reader)
    coinbase_index = reader.read_i32()
    chain_branch = _read_branch(reader)
    chain_index = reader.read_i32()
    parent_header = BlockHeader.deserialize(reader.read(HEADER_SIZE))
    return AuxPow(
        coinbase_tx, parent_block_hash, coinbase_branch, coinbase_index, chain_branch, chain_index, parent_header
    )


def parse_auxpow(data: bytes) -> AuxPow:
    """A CAuxPow from exactly these bytes (no trailing data), size-limited."""
    if len(data) > MAX_AUXPOW_SIZE:
        raise DecodeError("bad-auxpow-length", f"{len(data)} bytes, at most {MAX_AUXPOW_SIZE}")
    reader = ByteReader(data)
    auxpow = read_auxpow(reader)
    reader.check_done()
    return auxpow


def compute_chain_id(version: int) -> int:
    """GetChainId: nVersion / 65536 with C's truncation toward zero (equal to >>16 for positive versions)."""
    return -(-version // VERSION_CHAIN_START) if version < 0 else version // VERSION_CHAIN_START


def compute_expected_index(nonce: int, chain_id: int, merkle_height: int) -> int:
    """getExpectedIndex: our slot in the chain Merkle tree, a 32-bit LCG of (nonce, chain ID)."""
    if not 0 <= merkle_height <= MAX_CHAIN_MERKLE_HEIGHT:
        raise ValueError(f"merkle height {merkle_height} outside 0..{MAX_CHAIN_MERKLE_HEIGHT}")
    modulus = 1 << merkle_height
    rand = nonce & _U32
    rand = (rand * 1103515245 + 12345) & _U32
    rand %= modulus
    rand = (rand + chain_id) & _U32  # uint32 += int: wraps modulo 2^32
    rand = (rand * 1103515245 + 12345) & _U32
    return rand % modulus


def compute_parent_pow_hash(parent_header: BlockHeader, parent_pow: str = "sha256d") -> bytes:
    """The parent's proof-of-work hash (internal order): SHA256d, or Litecoin's scrypt for Dogecoin samples."""
    if parent_pow == "sha256d":
        return parent_header.hash
    if parent_pow == "scrypt":
        raw = parent_header.serialize()
        return hashlib.scrypt(raw, salt=raw, n=1024, r=1, p=1, dklen=32)
    raise ValueError(f"unknown parent proof of work {parent_pow!r}; expected one of {PARENT_POW_ALGOS}")


def compute_chain_merkle_root(aux_block_hash: bytes, chain_branch: tuple[bytes, ...], chain_index: int) -> bytes:
    """CAuxPow::CheckMerkleBranch, including its quirk that index -1 gives the zero hash."""
    if chain_index == -1:
        return ZERO_HASH
    return compute_root_from_branch(aux_block_hash, list(chain_branch), chain_index)


def check_auxpow(auxpow: AuxPow, aux_block_hash: bytes, chain_id: int, strict_chain_id: bool = True) -> None:
    """CAuxPow::check: the auxpow commits to `aux_block_hash` (internal order) for `chain_id`."""
    if auxpow.coinbase_index != 0:
        raise HeaderError("auxpow-coinbase-index", f"coinbase index {auxpow.coinbase_index}, must be 0")
    if strict_chain_id and compute_chain_id(auxpow.parent_header.version) == chain_id:
        raise HeaderError("auxpow-parent-chain-id", f"the parent header has our chain ID {chain_id}")
    height = len(auxpow.chain_branch)
    if height > MAX_CHAIN_MERKLE_HEIGHT:
        raise HeaderError("auxpow-chain-branch-too-long", f"{height} entries, at most {MAX_CHAIN_MERKLE_HEIGHT}")
    root_display = compute_chain_merkle_root(aux_block_hash, auxpow.chain_branch, auxpow.chain_index)[::-1]
    check_coinbase_in_parent(auxpow)
    if not auxpow.coinbase_tx.inputs:
        raise HeaderError("auxpow-coinbase-no-inputs", "the parent coinbase has no input")
    script = auxpow.coinbase_tx.inputs[0].script_sig
    after_root = find_chain_root(script, root_display)
    check_size_and_index(script[after_root:], auxpow.chain_index, chain_id, height)


def check_coinbase_in_parent(auxpow: AuxPow) -> None:
    """The coinbase txid (witness stripped) folds up its branch, at index 0, to the parent's Merkle root."""
    root = compute_root_from_branch(auxpow.coinbase_tx.txid, list(auxpow.coinbase_branch), 0)
    if root != auxpow.parent_header.merkle_root:
        raise HeaderError("auxpow-bad-merkle-root", "the coinbase is not in the parent's Merkle tree")


def find_chain_root(script: bytes, root_display: bytes) -> int:
    """Locate the committed chain root in the scriptSig by the magic rules; the offset just after it."""
    root_pos = script.find(root_display)
    if root_pos < 0:
        raise HeaderError("auxpow-missing-root", "the chain Merkle root is not in the parent coinbase")
    magic_pos = script.find(MERGED_MINING_HEADER)
    if magic_pos >= 0:
        if script.find(MERGED_MINING_HEADER, magic_pos + 1) >= 0:
            raise HeaderError("auxpow-multiple-headers", "more than one merged-mining header in the coinbase")
        if magic_pos + len(MERGED_MINING_HEADER) != root_pos:
            raise HeaderError("auxpow-header-not-before-root", "the merged-mining header is not just before the root")
    elif root_pos > MAX_ROOT_OFFSET_WITHOUT_MAGIC:
        raise HeaderError("auxpow-root-too-late", f"root at byte {root_pos}; without magic it must start by byte 20")
    return root_pos + len(root_display)


def check_size_and_index(tail: bytes, chain_index: int, chain_id: int, height: int) -> None:
    """The LE32 merkle size and LE32 nonce after the root fix the tree size and our slot in it."""
    if len(tail) < 8:
        raise HeaderError("auxpow-missing-size-nonce", "no merkle size and nonce after the chain root")
    size, nonce = struct.unpack_from("<II", tail)
    if size != 1 << height:
        raise HeaderError("auxpow-wrong-size", f"merkle size {size}, the branch implies {1 << height}")
    expected = compute_expected_index(nonce, chain_id, height)
    if chain_index != expected:
        raise HeaderError("auxpow-wrong-index", f"chain index {chain_index}, expected {expected}")


def check_auxpow_proof(
    auxpow: AuxPow,
    aux_block_hash: bytes,
    chain_id: int,
    bits: int,
    pow_limit: int,
    parent_pow: str = "sha256d",
    strict_chain_id: bool = True,
) -> None:
    """The auxpow half of CheckProofOfWork: parent flag, parent PoW against OUR bits, then check_auxpow."""
    if auxpow.parent_header.is_auxpow():
        raise HeaderError("auxpow-parent-has-auxpow", "the parent header has the auxpow version flag")
    check_proof_of_work(compute_parent_pow_hash(auxpow.parent_header, parent_pow), bits, pow_limit)
    check_auxpow(auxpow, aux_block_hash, chain_id, strict_chain_id)


def is_auxpow_active(params: ChainParams, height: int) -> bool:
    return params.auxpow_start_height is not None and height >= params.auxpow_start_height


def check_block_proof(
    header: BlockHeader,
    auxpow: AuxPow | None,
    params: ChainParams,
    height: int,
    parent_pow: str = "sha256d",
    strict_chain_id: bool = True,
) -> None:
    """Namecoin's CheckProofOfWork(const CBlockHeader&) with our activation height and own-PoW switch."""
    if strict_chain_id and compute_chain_id(header.version) != params.chain_id:
        raise HeaderError("bad-chain-id", f"chain ID {compute_chain_id(header.version)}, expected {params.chain_id}")
    if header.is_auxpow() and not is_auxpow_active(params, height):
        raise HeaderError("auxpow-before-start", f"auxpow block at height {height} before activation")
    if auxpow is None:
        if header.is_auxpow():
            raise HeaderError("auxpow-missing", "auxpow version flag without an auxpow")
        if not params.allow_own_pow:
            raise HeaderError("own-pow-not-allowed", "this network accepts merge-mined blocks only")
        check_proof_of_work(header.hash, header.bits, params.pow.pow_limit)
        return
    check_auxpow_block_proof(header, auxpow, params, parent_pow, strict_chain_id)


def check_auxpow_block_proof(
    header: BlockHeader, auxpow: AuxPow, params: ChainParams, parent_pow: str = "sha256d", strict_chain_id: bool = True
) -> None:
    """The merge-mined branch of CheckProofOfWork, for callers that check chain ID and activation themselves."""
    if not header.is_auxpow():
        raise HeaderError("auxpow-unexpected", "an auxpow on a block without the auxpow version flag")
    check_auxpow_proof(
        auxpow,
        header.hash,
        compute_chain_id(header.version),
        header.bits,
        params.pow.pow_limit,
        parent_pow,
        strict_chain_id,
    )


# --- Building commitments and auxpows, as a pool does (used by mining RPCs and tests) ---------------


def build_aux_coinbase_script(aux_root: bytes, merkle_height: int, nonce: int) -> bytes:
    """The parent-coinbase commitment: fabe6d6d | root (display order) | LE32 2^height | LE32 nonce.

    `aux_root` is in internal order (our block hash itself when merge-mining one chain at height 0).
    """
    if len(aux_root) != 32:
        raise ValueError("the chain Merkle root is 32 bytes")
    if not 0 <= merkle_height <= MAX_CHAIN_MERKLE_HEIGHT:
        raise ValueError(f"merkle height {merkle_height} outside 0..{MAX_CHAIN_MERKLE_HEIGHT}")
    return MERGED_MINING_HEADER + aux_root[::-1] + struct.pack("<II", 1 << merkle_height, nonce & _U32)


@dataclass(frozen=True)
class AuxMerkleTree:
    """A pool's chain Merkle tree over several merge-mined chains, each at its expected slot."""

    root: bytes
    merkle_height: int
    nonce: int
    slots: dict[int, int]  # chain ID -> leaf index
    branches: dict[int, tuple[bytes, ...]]  # chain ID -> branch from its leaf to the root


def build_aux_merkle_tree(hashes_by_chain: dict[int, bytes], merkle_height: int, nonce: int) -> AuxMerkleTree:
    """Place each chain's block hash at getExpectedIndex's slot (empty slots are zero); ValueError on a clash."""
    leaves = [ZERO_HASH] * (1 << merkle_height)
    slots: dict[int, int] = {}
    for chain_id, block_hash in hashes_by_chain.items():
        slot = compute_expected_index(nonce, chain_id, merkle_height)
        if slot in slots.values():
            raise ValueError(f"chain {chain_id} clashes at slot {slot}; choose another nonce or height")
        slots[chain_id] = slot
        leaves[slot] = block_hash
    root = compute_merkle_root(leaves)[0]
    branches = {cid: tuple(compute_merkle_branch(leaves, slot)) for cid, slot in slots.items()}
    return AuxMerkleTree(root, merkle_height, nonce, slots, branches)


def build_parent_coinbase(
    commitment: bytes, height_push: bytes = b"\x03\x00\x00\x00", outputs: tuple[TxOut, ...] = ()
) -> BitcoinTx:
    """A Bitcoin coinbase whose scriptSig is the height push followed by the merged-mining commitment."""
    coinbase_in = TxIn(ZERO_HASH, _U32, height_push + commitment, _U32)
    return BitcoinTx(version=1, inputs=(coinbase_in,), outputs=outputs, locktime=0)


def build_auxpow(
    coinbase_tx: BitcoinTx,
    parent_header: BlockHeader,
    coinbase_branch: tuple[bytes, ...] = (),
    chain_branch: tuple[bytes, ...] = (),
    chain_index: int = 0,
) -> AuxPow:
    """An AuxPow for a parent header whose coinbase (tx 0, with this branch) commits to our block.

    hashBlock is written as zero and the coinbase index as 0, as Namecoin's own serializer does.
    """
    return AuxPow(coinbase_tx, ZERO_HASH, tuple(coinbase_branch), 0, tuple(chain_branch), chain_index, parent_header)
