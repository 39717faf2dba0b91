"""Building and signing coordination transactions (for wallets, miners, validators and tests)."""

from __future__ import annotations

import ipaddress

from hashgrad.chain.coordination import compute_register_message, compute_weights_commitment, compute_work_commitment
from hashgrad.chain.coordination_tx import (
    CheckpointAttestPayload,
    CoordKind,
    EndpointPayload,
    EvidencePayload,
    RegisterPayload,
    StakePayload,
    WeightsCommitPayload,
    WeightsRevealPayload,
    WorkCommitPayload,
    WorkRevealPayload,
)
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.tx import Transaction, sign_transaction

DEFAULT_FEE = 1_000


def make_register(
    coldkey: SigningKey,
    hotkey: SigningKey,
    magic: bytes,
    nonce: int,
    job_id: int,
    max_burn: int,
    fee: int = DEFAULT_FEE,
) -> Transaction:
    consent = hotkey.sign(compute_register_message(magic, job_id, coldkey.pubkey, hotkey.pubkey))
    payload = RegisterPayload(job_id, hotkey.pubkey, max_burn, consent)
    return sign_transaction(coldkey, magic, CoordKind.REGISTER, nonce, fee, payload.serialize())


def make_stake(
    coldkey: SigningKey, magic: bytes, nonce: int, hotkey: bytes, amount: int, add: bool = True, fee: int = DEFAULT_FEE
) -> Transaction:
    kind = CoordKind.ADD_STAKE if add else CoordKind.REMOVE_STAKE
    return sign_transaction(coldkey, magic, kind, nonce, fee, StakePayload(hotkey, amount).serialize())


def make_commit_work(
    hotkey: SigningKey,
    magic: bytes,
    nonce: int,
    job_id: int,
    epoch: int,
    artifact_id: bytes,
    base_checkpoint: bytes,
    fee: int = DEFAULT_FEE,
) -> Transaction:
    commitment = compute_work_commitment(artifact_id, hotkey.pubkey, epoch, job_id, base_checkpoint)
    payload = WorkCommitPayload(job_id, epoch, commitment)
    return sign_transaction(hotkey, magic, CoordKind.COMMIT_WORK, nonce, fee, payload.serialize())


def make_reveal_work(
    hotkey: SigningKey,
    magic: bytes,
    nonce: int,
    job_id: int,
    epoch: int,
    artifact_id: bytes,
    base_checkpoint: bytes,
    fee: int = DEFAULT_FEE,
) -> Transaction:
    payload = WorkRevealPayload(job_id, epoch, artifact_id, base_checkpoint)
    return sign_transaction(hotkey, magic, CoordKind.REVEAL_WORK, nonce, fee, payload.serialize())


def make_commit_weights(
    hotkey: SigningKey,
    magic: bytes,
    nonce: int,
    job_id: int,
    epoch: int,
    weights: tuple[tuple[int, int], ...],
    salt: bytes,
    fee: int = DEFAULT_FEE,
) -> Transaction:
    commitment = compute_weights_commitment(weights, salt, hotkey.pubkey, epoch, job_id)
    payload = WeightsCommitPayload(job_id, epoch, commitment)
    return sign_transaction(hotkey, magic, CoordKind.COMMIT_WEIGHTS, nonce, fee, payload.serialize())


def make_reveal_weights(
    hotkey: SigningKey,
    magic: bytes,
    nonce: int,
    job_id: int,
    epoch: int,
    weights: tuple[tuple[int, int], ...],
    salt: bytes,
    fee: int = DEFAULT_FEE,
) -> Transaction:
    payload = WeightsRevealPayload(job_id, epoch, salt, weights)
    return sign_transaction(hotkey, magic, CoordKind.REVEAL_WEIGHTS, nonce, fee, payload.serialize())


def make_attest_checkpoint(
    hotkey: SigningKey, magic: bytes, nonce: int, job_id: int, epoch: int, checkpoint: bytes, fee: int = DEFAULT_FEE
) -> Transaction:
    payload = CheckpointAttestPayload(job_id, epoch, checkpoint)
    return sign_transaction(hotkey, magic, CoordKind.ATTEST_CHECKPOINT, nonce, fee, payload.serialize())


def make_announce_endpoint(
    hotkey: SigningKey, magic: bytes, nonce: int, job_id: int, host: str, port: int, fee: int = DEFAULT_FEE
) -> Transaction:
    """Announce where this hotkey serves on a job (IPv4 addresses are stored IPv4-mapped)."""

    address = ipaddress.ip_address(host)
    ip = (ipaddress.IPv6Address(f"::ffff:{address}") if address.version == 4 else address).packed
    payload = EndpointPayload(job_id, ip, port)
    return sign_transaction(hotkey, magic, CoordKind.ANNOUNCE_ENDPOINT, nonce, fee, payload.serialize())


def make_publish_evidence(
    hotkey: SigningKey,
    magic: bytes,
    nonce: int,
    job_id: int,
    epoch: int,
    entries: tuple[tuple[int, int, bytes], ...],
    fee: int = DEFAULT_FEE,
) -> Transaction:
    """Publish failed-audit evidence ids ((miner uid, EvidenceReason, evidence artifact id)..., uids
    increasing) against miners' work of `epoch`."""
    payload = EvidencePayload(job_id, epoch, tuple(entries))
    return sign_transaction(hotkey, magic, CoordKind.PUBLISH_EVIDENCE, nonce, fee, payload.serialize())
