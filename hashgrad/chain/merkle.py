"""Bitcoin's Merkle tree: the root with CVE-2012-2459 mutation detection, and Merkle branches.

`compute_merkle_root` follows `consensus/merkle.cpp`: pairs of equal hashes at any level flag a
mutated list (the same root as a list with duplicated trailing transactions), and odd levels
duplicate their last hash. Branches are what AuxPoW and SPV proofs carry.
"""

from __future__ import annotations

from hashgrad.chain.hashes import ZERO_HASH, sha256d


def compute_merkle_root(hashes: list[bytes]) -> tuple[bytes, bool]:
    """(root, mutated) over hashes in internal byte order; an empty list gives the zero hash."""
    if not hashes:
        return ZERO_HASH, False
    level = list(hashes)
    mutated = False
    while len(level) > 1:
        for pos in range(0, len(level) - 1, 2):
            if level[pos] == level[pos + 1]:
                mutated = True
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0], mutated


def compute_merkle_branch(hashes: list[bytes], index: int) -> list[bytes]:
    """The sibling hashes from leaf `index` up to the root (Bitcoin's CMerkleTx branch order)."""
    if not 0 <= index < len(hashes):
        raise IndexError("leaf index out of range")
    branch = []
    level = list(hashes)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        branch.append(level[index ^ 1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        index >>= 1
    return branch


def compute_root_from_branch(leaf: bytes, branch: list[bytes], index: int) -> bytes:
    """CheckMerkleBranch: fold a leaf up its branch; bit i of `index` says the side at level i."""
    current = leaf
    for sibling in branch:
        current = sha256d(sibling + current) if index & 1 else sha256d(current + sibling)
        index >>= 1
    return current
