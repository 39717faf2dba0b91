"""Content-addressed artifact store: blobs named by their sha256, size-limited, checked on every read.

`ArtifactStore` is the interface nodes serve to peers and miners/validators use; `LocalArtifactStore`
keeps files under a directory (`ab/abcdef...`, written atomically), `MemoryArtifactStore` keeps
them in a dict for in-process swarms. An S3-compatible store would implement the same four
methods. Every `get` re-hashes what it read, so a corrupted or swapped file is never returned.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

from hashgrad.errors import WorkError

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def compute_artifact_id(data: bytes) -> bytes:
    """An artifact's id: the SHA-256 of its bytes (natural byte order, as sha256sum prints it)."""
    return hashlib.sha256(data).digest()


class ArtifactStore(ABC):
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes

    def put(self, data: bytes) -> bytes:
        """Store a blob; returns its id (sha256). Storing the same bytes twice is a no-op."""
        if len(data) > self.max_bytes:
            raise WorkError("artifact-too-large", f"{len(data)} bytes > limit {self.max_bytes}")
        artifact_id = compute_artifact_id(data)
        if not self.has(artifact_id):
            self._write(artifact_id, bytes(data))
        return artifact_id

    def get(self, artifact_id: bytes) -> bytes:
        """The blob with this id; raises `artifact-not-found`, `artifact-too-large` or `bad-artifact-hash`."""
        check_artifact_id(artifact_id)
        data = self._read(artifact_id, self.max_bytes)
        if compute_artifact_id(data) != artifact_id:
            raise WorkError("bad-artifact-hash", f"stored bytes do not hash to {artifact_id.hex()}")
        return data

    @abstractmethod
    def has(self, artifact_id: bytes) -> bool: ...

    @abstractmethod
    def _write(self, artifact_id: bytes, data: bytes) -> None: ...

    @abstractmethod
    def _read(self, artifact_id: bytes, max_bytes: int) -> bytes:
        """Raw stored bytes, at most max_bytes (raise artifact-too-large beyond, artifact-not-found if absent)."""


def check_artifact_id(artifact_id: bytes) -> None:
    if not isinstance(artifact_id, bytes) or len(artifact_id) != 32:
        raise WorkError("bad-artifact-id", "an artifact id is 32 bytes")


class MemoryArtifactStore(ArtifactStore):
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        super().__init__(max_bytes)
        self._blobs: dict[bytes, bytes] = {}

    def has(self, artifact_id: bytes) -> bool:
        return artifact_id in self._blobs

    def _write(self, artifact_id: bytes, data: bytes) -> None:
        self._blobs[artifact_id] = data

    def _read(self, artifact_id: bytes, max_bytes: int) -> bytes:
        if artifact_id not in self._blobs:
            raise WorkError("artifact-not-found", artifact_id.hex())
        data = self._blobs[artifact_id]
        if len(data) > max_bytes:
            raise WorkError("artifact-too-large", f"{len(data)} bytes > limit {max_bytes}")
        return data


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES):
        super().__init__(max_bytes)
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def get_path(self, artifact_id: bytes) -> Path:
        check_artifact_id(artifact_id)
        name = artifact_id.hex()
        return self.root / name[:2] / name

    def has(self, artifact_id: bytes) -> bool:
        return self.get_path(artifact_id).is_file()

    def _write(self, artifact_id: bytes, data: bytes) -> None:
        path = self.get_path(artifact_id)
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _read(self, artifact_id: bytes, max_bytes: int) -> bytes:
        path = self.get_path(artifact_id)
        try:
            with path.open("rb") as handle:
                data = handle.read(max_bytes + 1)
        except FileNotFoundError:
            raise WorkError("artifact-not-found", artifact_id.hex()) from None
        if len(data) > max_bytes:
            raise WorkError("artifact-too-large", f"{path} exceeds {max_bytes} bytes")
        return data
