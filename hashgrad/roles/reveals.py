"""Reveals through the node: a miner stores its reveal's chunks and manifest (work.reveal) as artifacts;
a validator of another hardware class fetches them when, and only when, it audits the update.

Every fetched byte is checked before use: the manifest against the update header's `reveal` hash
(the node's client checks each artifact's sha256) and the job's limits, each chunk against the
manifest's length and hash. A reveal that cannot be had raises WorkError, and the audit fails:

    reveal-missing           the header names no reveal, or a node holds none of the manifest or a chunk
    reveal-too-large         the manifest's size exceeds the job's max_reveal_bytes (or the manifest its own cap)
    reveal-too-many-chunks   more chunks than the job's limit allows
    bad-reveal-manifest      not the manifest format (fields, types, a chunk count its size does not make)
    bad-reveal-chunk         a chunk of the wrong length
    reveal-chunk-mismatch    a chunk that does not hash to the manifest's entry
    bad-artifact-hash        a node answered with bytes that do not hash to the id asked for (node.client)
"""

from __future__ import annotations

import time

from hashgrad.errors import HashgradError, RpcError, WorkError
from hashgrad.node.client import NodeClient
from hashgrad.roles.common import log
from hashgrad.work.params import WorkParams
from hashgrad.work.reveal import (
    NO_REVEAL,
    RevealPackage,
    check_reveal_chunk,
    compute_chunk_count,
    decode_reveal_manifest,
    join_reveal_chunks,
)
from hashgrad.work.scoring import Submission
from hashgrad.work.update import UpdateHeader


def publish_reveal(client: NodeClient, package: RevealPackage) -> bytes:
    """Store the chunks, then the manifest, on the miner's node; the manifest's id (the header's `reveal`)."""
    for chunk in package.chunks:
        client.put_artifact(chunk)
    return client.put_artifact(package.manifest)


def get_reveal_artifact(client: NodeClient, artifact_id: bytes, what: str) -> bytes:
    try:
        return client.get_artifact(artifact_id)
    except RpcError as exc:
        raise WorkError("reveal-missing", f"{what} {artifact_id.hex()[:16]}: {exc}") from None


def fetch_reveal(client: NodeClient, manifest_id: bytes, params: WorkParams) -> bytes:
    """The reveal an update header names, fetched chunk by chunk through the node (from peers when it
    lacks them) and checked; raises WorkError with the reasons above."""
    if manifest_id == NO_REVEAL:
        raise WorkError("reveal-missing", "the update names no reveal")
    manifest = decode_reveal_manifest(get_reveal_artifact(client, manifest_id, "manifest"), params)
    chunks = [
        check_reveal_chunk(manifest, i, get_reveal_artifact(client, c, f"chunk {i}"))  # each checked as it comes
        for i, c in enumerate(manifest.chunks)
    ]
    return join_reveal_chunks(manifest, chunks)


class RevealFetcher:
    """ScoringInputs.fetch_reveal for a validator role: fetch_reveal with a log line per audit."""

    def __init__(self, client: NodeClient, params: WorkParams, epoch: int):
        self.client, self.params, self.epoch = client, params, epoch

    def __call__(self, submission: Submission, header: UpdateHeader) -> bytes:
        started = time.monotonic()
        try:
            data = fetch_reveal(self.client, header.reveal, self.params)
        except HashgradError as exc:
            log.warning(
                "epoch %d: uid %d's reveal could not be had (%s): audit failed", self.epoch, submission.uid, exc
            )
            raise
        log.info(
            "epoch %d: fetched uid %d's reveal (class %s) for a cross-class audit: %d bytes in %d chunks, %.2f s",
            self.epoch,
            submission.uid,
            header.hardware,
            len(data),
            compute_chunk_count(len(data)),
            time.monotonic() - started,
        )
        return data
