"""Merkle roots (with CVE-2012-2459 mutation detection) and branches, on real blocks and on Bitcoin
Core's `gettxoutproof` proofs, whose partial Merkle trees are parsed here as Core's CPartialMerkleTree."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashgrad.chain.encoding import ByteReader
from hashgrad.chain.hashes import ZERO_HASH, hash_to_display, sha256d
from hashgrad.chain.header import BlockHeader
from hashgrad.chain.merkle import compute_merkle_branch, compute_merkle_root, compute_root_from_branch


def leaves(n: int, salt: int = 0) -> list[bytes]:
    return [hashlib.sha256(f"{salt}:{i}".encode()).digest() for i in range(n)]


def ctz(n: int) -> int:
    return (n & -n).bit_length() - 1


# --- CMerkleBlock (merkleblock.cpp), a test helper -------------------------------------------------


def parse_merkle_block(raw: bytes) -> tuple[BlockHeader, bytes, list[tuple[int, bytes]]]:
    """(header, root, [(index, txid)]) of a CMerkleBlock; ValueError where Core's fBad would be set."""
    reader = ByteReader(raw)
    header = BlockHeader.deserialize(reader.read(80))
    n_tx = reader.read_u32()
    hashes = [reader.read(32) for _ in range(reader.read_compact_size())]
    flag_bytes = reader.read_var_bytes()
    reader.check_done()
    bits = [(flag_bytes[p // 8] >> (p % 8)) & 1 for p in range(len(flag_bytes) * 8)]
    if n_tx == 0 or len(hashes) > n_tx or len(bits) < len(hashes):
        raise ValueError("bad partial merkle tree sizes")

    def width(height: int) -> int:
        return (n_tx + (1 << height) - 1) >> height

    used = {"bits": 0, "hashes": 0}
    matches: list[tuple[int, bytes]] = []

    def traverse(height: int, pos: int) -> bytes:
        if used["bits"] >= len(bits):
            raise ValueError("overflowed the bits array")
        parent_of_match = bits[used["bits"]]
        used["bits"] += 1
        if height == 0 or not parent_of_match:
            if used["hashes"] >= len(hashes):
                raise ValueError("overflowed the hash array")
            node = hashes[used["hashes"]]
            used["hashes"] += 1
            if height == 0 and parent_of_match:
                matches.append((pos, node))
            return node
        left = traverse(height - 1, pos * 2)
        if pos * 2 + 1 < width(height - 1):
            right = traverse(height - 1, pos * 2 + 1)
            if right == left:
                raise ValueError("CVE-2012-2459: identical children")
        else:
            right = left
        return sha256d(left + right)

    height = 0
    while width(height) > 1:
        height += 1
    root = traverse(height, 0)
    if (used["bits"] + 7) // 8 != (len(bits) + 7) // 8 or used["hashes"] != len(hashes):
        raise ValueError("not all bits or hashes consumed")
    return header, root, matches


# --- roots -------------------------------------------------------------------------------------------


def test_compute_merkle_root_small():
    assert compute_merkle_root([]) == (ZERO_HASH, False)
    (leaf,) = leaves(1)
    assert compute_merkle_root([leaf]) == (leaf, False)
    a, b, c = leaves(3)
    assert compute_merkle_root([a, b]) == (sha256d(a + b), False)
    assert compute_merkle_root([a, b, c]) == (sha256d(sha256d(a + b) + sha256d(c + c)), False)


def test_compute_merkle_root_real_blocks(parsed_413567, parsed_830000):
    for block, root_hex in (
        (parsed_413567, "64a50c649fc816baaa2effda230c39cacf1504e4e616a2863685b72aaa7dce05"),
        (parsed_830000, "8a56cfd4c2776e3e4720fd2e50aefb4d51f07a45662e1aea17b0c91afdb2ad70"),
    ):
        root, mutated = compute_merkle_root([tx.txid for tx in block.txs])
        assert hash_to_display(root) == root_hex and root == block.header.merkle_root and not mutated


def test_invalid_merkle_root_cve_2012_2459():
    txs = leaves(6)
    root, mutated = compute_merkle_root(txs)
    assert not mutated
    assert compute_merkle_root(txs + txs[4:6]) == (root, True)


def test_invalid_merkle_root_mutations_core_loop():
    """merkle_tests.cpp: duplicating the last 2^ctz(n) leaves, up to three times, keeps the root and
    sets mutated; duplicating the whole list adds a level and changes the root."""
    for ntx in range(1, 65):
        txs = leaves(ntx, ntx)
        root, mutated = compute_merkle_root(txs)
        assert not mutated
        current = list(txs)
        for _ in range(3):
            dup = 1 << ctz(len(current))
            if dup >= len(current):
                break
            current = current + current[-dup:]
            assert compute_merkle_root(current) == (root, True), (ntx, len(current))
        if ntx > 1:
            assert compute_merkle_root(txs + txs)[0] != root


def test_invalid_merkle_root_inner_duplicate_pair():
    a, b, c, d = leaves(4)
    assert compute_merkle_root([a, b, c, d, a, b, c, d])[1] is True  # equal pair one level up
    assert compute_merkle_root([a, a, b, c])[1] is True  # equal pair not at the end


# --- branches ------------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=40))
def test_compute_merkle_branch_round_trip(ntx):
    txs = leaves(ntx, 7)
    root, _ = compute_merkle_root(txs)
    for index in range(ntx):
        branch = compute_merkle_branch(txs, index)
        assert len(branch) == (ntx - 1).bit_length()
        assert compute_root_from_branch(txs[index], branch, index) == root
        if ntx > 1:
            assert compute_root_from_branch(txs[index], branch, index ^ 1) != root or branch[0] == txs[index]


def test_compute_merkle_branch_real_block(parsed_830000):
    txids = [tx.txid for tx in parsed_830000.txs]
    for index in (0, 1, 10, 100, 1000, 1849, 1850):
        assert (
            compute_root_from_branch(txids[index], compute_merkle_branch(txids, index), index)
            == parsed_830000.header.merkle_root
        )


def test_invalid_merkle_branch_index():
    with pytest.raises(IndexError):
        compute_merkle_branch(leaves(3), 3)


# --- gettxoutproof proofs ------------------------------------------------------------------------


def test_txoutproofs(load_json, parsed_830000):
    proofs = load_json("btc_txoutproofs.json")["proofs"]
    assert len(proofs) == 11
    txids = [tx.txid for tx in parsed_830000.txs]
    for proof in proofs:
        header, root, matches = parse_merkle_block(bytes.fromhex(proof["merkleblock_hex"]))
        assert header.hash_hex == proof["block_hash"] and root == header.merkle_root
        assert [index for index, _ in matches] == proof["tx_indexes"]
        if proof["block_height"] != 830000:
            continue
        assert header == parsed_830000.header
        for index, txid in matches:
            assert txid == txids[index]
            assert compute_root_from_branch(txid, compute_merkle_branch(txids, index), index) == root


def test_txoutproof_hashes_are_the_branch(load_json, parsed_830000):
    """For a single matched tx, the proof carries the leaf and exactly its branch (minus self-duplicates)."""
    txids = [tx.txid for tx in parsed_830000.txs]
    for proof in load_json("btc_txoutproofs.json")["proofs"]:
        if proof["block_height"] != 830000:
            continue
        (index,) = proof["tx_indexes"]
        raw = bytes.fromhex(proof["merkleblock_hex"])
        reader = ByteReader(raw[84:])
        proof_hashes = {reader.read(32) for _ in range(reader.read_compact_size())}
        node, siblings = txids[index], set()
        position = index
        for sibling in compute_merkle_branch(txids, index):
            if sibling != node:
                siblings.add(sibling)
            node = sha256d(sibling + node) if position & 1 else sha256d(node + sibling)
            position >>= 1
        assert proof_hashes == siblings | {txids[index]}, index


def test_invalid_txoutproof_tampered(load_json):
    raw = bytearray(bytes.fromhex(load_json("btc_txoutproofs.json")["proofs"][3]["merkleblock_hex"]))
    header, root, _ = parse_merkle_block(bytes(raw))
    raw[90] ^= 1  # inside the first proof hash
    _, tampered_root, _ = parse_merkle_block(bytes(raw))
    assert tampered_root != root == header.merkle_root
