"""Commitments, seeds and seeded sampling (hashgrad.work.hashing)."""

from __future__ import annotations

import pytest

from hashgrad.errors import WorkError
from hashgrad.work.hashing import compute_commitment, compute_sample, compute_seed

A, H, B = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32


def test_compute_commitment_binds_every_field():
    base = compute_commitment(A, H, 5, 0, B)
    assert len(base) == 32
    variants = [
        compute_commitment(b"\x09" * 32, H, 5, 0, B),
        compute_commitment(A, b"\x09" * 32, 5, 0, B),
        compute_commitment(A, H, 6, 0, B),
        compute_commitment(A, H, 5, 1, B),
        compute_commitment(A, H, 5, 0, b"\x09" * 32),
    ]
    assert len({base, *variants}) == 6


def test_compute_commitment_is_the_chains_rule():
    """The validator checks the same binding block connect checks at the reveal."""
    import struct

    from hashgrad.chain.coordination import compute_work_commitment
    from hashgrad.chain.hashes import tagged_hash

    msg = struct.pack("<32s32sIH32s", A, H, 5, 7, B)
    assert compute_commitment(A, H, 5, 7, B) == compute_work_commitment(A, H, 5, 7, B)
    assert compute_commitment(A, H, 5, 7, B) == tagged_hash("hashgrad/work-commit", msg)


def test_invalid_commitment_field_lengths():
    with pytest.raises(WorkError) as exc:
        compute_commitment(A[:31], H, 0, 0, B)
    assert exc.value.reason == "bad-length"
    with pytest.raises(WorkError) as exc:
        compute_commitment(A, H, -1, 0, B)
    assert exc.value.reason == "bad-commitment-field"


def test_compute_sample_is_deterministic_and_distinct():
    seed = compute_seed(A, "x")
    picks = compute_sample(seed, 1000, 50)
    assert picks == compute_sample(seed, 1000, 50)
    assert len(set(picks)) == 50 and all(0 <= p < 1000 for p in picks)
    assert sorted(compute_sample(seed, 20, 20)) == list(range(20))
    assert compute_sample(compute_seed(A, "y"), 1000, 50) != picks
    # a shorter draw is a prefix of a longer one (batch order relies on this)
    assert compute_sample(seed, 1000, 10) == picks[:10]
