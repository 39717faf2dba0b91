"""Content-addressed artifact stores (hashgrad.store.artifacts)."""

from __future__ import annotations

import hashlib

import pytest

from hashgrad.errors import WorkError
from hashgrad.store.artifacts import LocalArtifactStore, MemoryArtifactStore


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_store_roundtrip_and_limits(kind, tmp_path):
    store = LocalArtifactStore(tmp_path, max_bytes=100) if kind == "local" else MemoryArtifactStore(max_bytes=100)
    artifact_id = store.put(b"hello")
    assert artifact_id == hashlib.sha256(b"hello").digest() and store.has(artifact_id)
    assert store.get(artifact_id) == b"hello"
    assert store.put(b"hello") == artifact_id
    with pytest.raises(WorkError) as exc:
        store.put(b"x" * 101)
    assert exc.value.reason == "artifact-too-large"
    with pytest.raises(WorkError) as exc:
        store.get(hashlib.sha256(b"absent").digest())
    assert exc.value.reason == "artifact-not-found"
    with pytest.raises(WorkError) as exc:
        store.get(b"short")
    assert exc.value.reason == "bad-artifact-id"


def test_local_store_checks_hash_and_size_on_every_read(tmp_path):
    store = LocalArtifactStore(tmp_path, max_bytes=100)
    artifact_id = store.put(b"payload")
    path = store.get_path(artifact_id)
    path.write_bytes(b"tampered")
    with pytest.raises(WorkError) as exc:
        store.get(artifact_id)
    assert exc.value.reason == "bad-artifact-hash"
    path.write_bytes(b"y" * 1000)
    with pytest.raises(WorkError) as exc:
        store.get(artifact_id)
    assert exc.value.reason == "artifact-too-large"
