"""A miner's reveal as chunks under a manifest (hashgrad.work.reveal): the bytes it cuts and joins, and
every check a validator makes of what it fetched, by reason code. The trip through real nodes is in
tests/functional/test_role_reveal_chunks.py."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from hashgrad.errors import WorkError
from hashgrad.node.rpc_artifacts import MAX_ARTIFACT_BYTES
from hashgrad.work.adversaries import MinerContext, compute_output
from hashgrad.work.compress import compute_layout
from hashgrad.work.crossclass import check_cross_class, decode_reveal
from hashgrad.work.hardware import CPU_FP32
from hashgrad.work.model import compute_header_json
from hashgrad.work.reveal import (
    MAX_MANIFEST_BYTES,
    NO_REVEAL,
    REVEAL_CHUNK_BYTES,
    REVEAL_MANIFEST_FORMAT,
    check_reveal_chunk,
    compute_reveal_package,
    decode_reveal_manifest,
    join_reveal_chunks,
)
from hashgrad.work.scoring import ScoringInputs, Submission, compute_audit
from hashgrad.work.update import UpdateHeader, decode_update

SEED, HOTKEY = b"\x05" * 32, b"\x06" * 32
DATA = os.urandom(2 * REVEAL_CHUNK_BYTES + 1000)  # two full chunks and a short one


def manifest_bytes(**fields) -> bytes:
    raw = {"format": REVEAL_MANIFEST_FORMAT, "size": len(DATA), "chunks": []} | fields
    return compute_header_json(raw).encode()


def reason_of(fn, *args) -> str:
    with pytest.raises(WorkError) as exc:
        fn(*args)
    return exc.value.reason


def test_a_reveal_is_cut_into_chunks_a_node_carries_and_joined_back(params):
    package = compute_reveal_package(DATA)
    assert REVEAL_CHUNK_BYTES <= MAX_ARTIFACT_BYTES
    assert [len(c) for c in package.chunks] == [REVEAL_CHUNK_BYTES, REVEAL_CHUNK_BYTES, 1000]
    assert package.size == len(DATA) and compute_reveal_package(DATA).manifest_id == package.manifest_id
    manifest = decode_reveal_manifest(package.manifest, params)
    assert manifest.size == len(DATA) and len(manifest.chunks) == 3
    assert join_reveal_chunks(manifest, list(package.chunks)) == DATA


def test_bad_manifests_are_refused_with_their_reason(params):
    chunks = [c.hex() for c in decode_reveal_manifest(compute_reveal_package(DATA).manifest, params).chunks]
    cases = {
        b"not json": "bad-reveal-manifest",
        b"[]": "bad-reveal-manifest",
        manifest_bytes(chunks=chunks, extra=1): "bad-reveal-manifest",
        manifest_bytes(chunks=chunks, format="hashgrad-reveal-manifest-v0"): "bad-reveal-manifest",
        manifest_bytes(chunks=chunks, size="12"): "bad-reveal-manifest",
        manifest_bytes(chunks=chunks, size=0): "bad-reveal-manifest",
        manifest_bytes(chunks=chunks[:2]): "bad-reveal-manifest",  # 3 chunks' worth of bytes, 2 named
        manifest_bytes(chunks=chunks[:2] + [chunks[2].upper()]): "bad-reveal-manifest",
        manifest_bytes(chunks=chunks[:2] + [chunks[2][:-2]]): "bad-reveal-manifest",
        manifest_bytes(chunks=chunks[:2] + [7]): "bad-reveal-manifest",
        manifest_bytes(chunks=chunks, size=params.max_reveal_bytes + 1): "reveal-too-large",
        b" " * (MAX_MANIFEST_BYTES + 1): "reveal-too-large",
        manifest_bytes(chunks=chunks * 30): "reveal-too-many-chunks",  # 90 > the job's 64
    }
    for data, reason in cases.items():
        assert reason_of(decode_reveal_manifest, data, params) == reason, data[:80]
    small = replace(params, max_reveal_bytes=2 * REVEAL_CHUNK_BYTES)
    assert reason_of(decode_reveal_manifest, manifest_bytes(chunks=chunks, size=100), small) == "reveal-too-many-chunks"
    assert reason_of(decode_reveal_manifest, compute_reveal_package(DATA).manifest, small) == "reveal-too-large"


def test_fetched_chunks_must_have_the_manifests_lengths_and_hashes(params):
    package = compute_reveal_package(DATA)
    manifest = decode_reveal_manifest(package.manifest, params)
    first, second, last = package.chunks
    flipped = bytes([first[0] ^ 1]) + first[1:]
    assert reason_of(check_reveal_chunk, manifest, 0, flipped) == "reveal-chunk-mismatch"
    assert reason_of(check_reveal_chunk, manifest, 0, second) == "reveal-chunk-mismatch"  # right size, wrong place
    assert reason_of(check_reveal_chunk, manifest, 2, last + b"\x00") == "bad-reveal-chunk"
    assert reason_of(check_reveal_chunk, manifest, 2, first) == "bad-reveal-chunk"
    assert reason_of(join_reveal_chunks, manifest, [first, second]) == "bad-reveal-chunk"
    assert reason_of(join_reveal_chunks, manifest, [first, flipped, last]) == "reveal-chunk-mismatch"


def test_updates_name_their_reveal_and_a_sandbaggers_consistent_reveal_fails_replay(
    checkpoint, base_hash, dataset, params
):
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    ctx = MinerContext(checkpoint, base_hash, dataset, SEED, HOTKEY, 1, params, sandbag_fraction=0.5)
    verdicts = {}
    for kind in ("honest", "sandbagger", "noise"):
        output = compute_output(kind, ctx)
        header = decode_update(output.artifact, params, layout)[0]
        if output.reveal is None:  # a noise miner has no run to reveal
            assert kind == "noise" and header.reveal == NO_REVEAL
            continue
        assert header.reveal == output.reveal.manifest_id
        manifest = decode_reveal_manifest(output.reveal.manifest, params)
        reveal = join_reveal_chunks(manifest, list(output.reveal.chunks))
        assert sorted(decode_reveal(reveal, header, params).states) == [5, 10]  # it matches every hash it committed
        verdicts[kind] = check_cross_class(checkpoint, dataset, SEED, HOTKEY, params, header, reveal, CPU_FP32)
    assert verdicts["honest"].passed
    assert not verdicts["sandbagger"].passed and verdicts["sandbagger"].reason == "drift-exceeded"
    assert verdicts["sandbagger"].first_bad_step == 10  # it ran 6 steps: milestone 5 is genuine, 10 is made up


def test_a_validator_fetches_a_reveal_only_for_an_audit_across_classes(checkpoint, base_hash, dataset, params):
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    output = compute_output("honest", MinerContext(checkpoint, base_hash, dataset, SEED, HOTKEY, 1, params))
    header = decode_update(output.artifact, params, layout)[0]
    asked = []

    def fetch(sub: Submission, named: UpdateHeader) -> bytes:
        asked.append(named.reveal)
        manifest = decode_reveal_manifest(output.reveal.manifest, params)
        return join_reveal_chunks(manifest, list(output.reveal.chunks))

    def refuse(sub: Submission, named: UpdateHeader) -> bytes:
        raise WorkError("reveal-missing", "no node holds it")

    inputs = ScoringInputs(params, 1, SEED, bytes(32), checkpoint, base_hash, dataset, (), fetch_reveal=fetch)
    sub = Submission(0, HOTKEY, output.commitment, 0, output.artifact)
    assert compute_audit(inputs, sub, header, 5)[0] and asked == []  # same class: an exact replay, no reveal
    elsewhere = replace(header, hardware="cpu/SOME-OTHER-KERNEL/fp32/2.13.0+cpu/1")
    assert compute_audit(inputs, sub, elsewhere, 5)[0] and asked == [output.reveal.manifest_id]
    assert compute_audit(replace(inputs, fetch_reveal=refuse), sub, elsewhere, 5) == (False, 0, None, None)
