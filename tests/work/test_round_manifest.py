"""Round manifests (hashgrad.work.round_manifest): a miner's one commitment per epoch over its rounds."""

from __future__ import annotations

import hashlib

import pytest

from hashgrad.chain.merkle import compute_merkle_root
from hashgrad.errors import WorkError
from hashgrad.work.round_manifest import HEAD, RoundManifest, decode_manifest, encode_manifest

IDS = [hashlib.sha256(bytes([i])).digest() for i in range(3)]
MANIFEST = RoundManifest(0, 7, b"\x02" * 32, ((0, IDS[0]), (1, IDS[1]), (3, IDS[2])))


def test_encode_manifest_round_trip_and_root():
    data = encode_manifest(MANIFEST)
    assert decode_manifest(data, 4) == MANIFEST
    assert MANIFEST.root == compute_merkle_root(IDS)[0] == data[HEAD.size - 34 : HEAD.size - 2]
    assert MANIFEST.get_artifact(3) == IDS[2] and MANIFEST.get_artifact(2) is None


def tamper_root(data: bytes) -> bytes:
    return data[: HEAD.size - 34] + bytes(32) + data[HEAD.size - 2 :]


@pytest.mark.parametrize(
    "data, rounds",
    [
        (b"HGRM", 4),
        (b"XXXX" + encode_manifest(MANIFEST)[4:], 4),
        (encode_manifest(MANIFEST) + b"\x00", 4),
        (encode_manifest(MANIFEST), 3),  # round 3 of 3
        (encode_manifest(RoundManifest(0, 7, b"\x02" * 32, ((1, IDS[0]), (0, IDS[1])))), 4),
        (encode_manifest(RoundManifest(0, 7, b"\x02" * 32, ((1, IDS[0]), (1, IDS[1])))), 4),
        (tamper_root(encode_manifest(MANIFEST)), 4),
    ],
)
def test_invalid_round_manifest(data, rounds):
    with pytest.raises(WorkError) as info:
        decode_manifest(data, rounds)
    assert info.value.reason == "bad-round-manifest"
