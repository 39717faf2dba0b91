"""Rules of the coordination transactions: each `apply_<kind>` checks its payload against the state
at `height` and writes its records into the overlay (undo is exact because the overlay records
every previous value). Reason codes name the broken rule (`hotkey-not-registered`,
`work-commit-window-closed`, `weights-reveal-mismatch`...).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from hashgrad.chain.coordination import (
    Attestation,
    AttestedStake,
    CheckpointRecord,
    Endpoint,
    EvidenceEntry,
    EvidenceList,
    JobState,
    Neuron,
    NeuronStats,
    SparseRow,
    Stake,
    UidRecord,
    WeightsCommit,
    WorkCommit,
    WorkReveal,
    attest_key,
    attest_total_key,
    bonds_key,
    checkpoint_key,
    compute_register_message,
    compute_weights_commitment,
    compute_work_commitment,
    endpoint_key,
    evidence_key,
    job_state_key,
    neuron_key,
    stake_key,
    stats_key,
    uid_key,
    weights_commit_key,
    weights_reveal_key,
    work_commit_key,
    work_reveal_key,
)
from hashgrad.chain.coordination_tx import (
    MAX_EVIDENCE_PER_TX,
    CheckpointAttestPayload,
    CoordKind,
    EndpointPayload,
    EvidencePayload,
    EvidenceReason,
    RegisterPayload,
    StakePayload,
    WeightsCommitPayload,
    WeightsRevealPayload,
    WorkCommitPayload,
    WorkRevealPayload,
)
from hashgrad.chain.job_epoch import compute_validator_permits
from hashgrad.chain.jobs import JobParams, compute_epoch, compute_epoch_offset
from hashgrad.chain.keys import is_valid_schnorr
from hashgrad.chain.state import Account, StateOverlay, StateView, get_account, get_supply, put_account, put_supply
from hashgrad.errors import StoreError, TxError


# ----------------------------------------------------------------------------- reads
def get_job_params(params, job_id: int) -> JobParams:
    for job in params.jobs:
        if job.job_id == job_id:
            return job
    raise TxError("bad-job", f"no job {job_id}")


def get_job_state(state: StateView, job: JobParams) -> JobState:
    raw = state.get(job_state_key(job.job_id))
    return JobState.deserialize(raw) if raw else JobState(burn=job.initial_burn)


def get_uid(state: StateView, job_id: int, hotkey: bytes) -> int | None:
    raw = state.get(uid_key(job_id, hotkey))
    return UidRecord.deserialize(raw).uid if raw else None


def get_neuron(state: StateView, job_id: int, uid: int) -> Neuron | None:
    raw = state.get(neuron_key(job_id, uid))
    return Neuron.deserialize(raw) if raw else None


def get_assigned_neuron(state: StateView, job_id: int, uid: int) -> Neuron:
    """The neuron of a uid below the job's `n_uids` (every such uid has one; a gap is a corrupt state)."""
    neuron = get_neuron(state, job_id, uid)
    if neuron is None:
        raise StoreError("missing-neuron", f"job {job_id} uid {uid} has no neuron record")
    return neuron


def get_stake(state: StateView, hotkey: bytes) -> Stake | None:
    raw = state.get(stake_key(hotkey))
    return Stake.deserialize(raw) if raw else None


def get_stats(state: StateView, job_id: int, uid: int) -> NeuronStats:
    raw = state.get(stats_key(job_id, uid))
    return NeuronStats.deserialize(raw) if raw else NeuronStats()


def get_bonds_row(state: StateView, job_id: int, uid: int) -> tuple[tuple[int, int], ...]:
    raw = state.get(bonds_key(job_id, uid))
    return SparseRow.deserialize(raw).entries if raw else ()


def get_revealed_weights(state: StateView, job_id: int, epoch: int, uid: int) -> tuple[tuple[int, int], ...] | None:
    """The (uid, u16 weight) row a validator revealed for `epoch`, None if it revealed none."""
    raw = state.get(weights_reveal_key(job_id, epoch, uid))
    return SparseRow.deserialize(raw).entries if raw else None


def get_work_commit(state: StateView, job_id: int, epoch: int, uid: int) -> WorkCommit | None:
    raw = state.get(work_commit_key(job_id, epoch, uid))
    return WorkCommit.deserialize(raw) if raw else None


def get_work_reveal(state: StateView, job_id: int, epoch: int, uid: int) -> WorkReveal | None:
    raw = state.get(work_reveal_key(job_id, epoch, uid))
    return WorkReveal.deserialize(raw) if raw else None


def get_weights_commit(state: StateView, job_id: int, epoch: int, uid: int) -> WeightsCommit | None:
    raw = state.get(weights_commit_key(job_id, epoch, uid))
    return WeightsCommit.deserialize(raw) if raw else None


def get_attestation(state: StateView, job_id: int, epoch: int, uid: int) -> Attestation | None:
    raw = state.get(attest_key(job_id, epoch, uid))
    return Attestation.deserialize(raw) if raw else None


def get_checkpoint_record(state: StateView, job_id: int, epoch: int) -> CheckpointRecord | None:
    """The checkpoint recorded as the base of `epoch` (a stake majority attested it), if any."""
    raw = state.get(checkpoint_key(job_id, epoch))
    return CheckpointRecord.deserialize(raw) if raw else None


def get_endpoint(state: StateView, job_id: int, uid: int) -> Endpoint | None:
    raw = state.get(endpoint_key(job_id, uid))
    return Endpoint.deserialize(raw) if raw else None


def get_evidence(state: StateView, job_id: int, epoch: int, uid: int) -> tuple[EvidenceEntry, ...]:
    """The evidence published against the uid's work of `epoch`, in chain order (empty if none)."""
    raw = state.get(evidence_key(job_id, epoch, uid))
    return EvidenceList.deserialize(raw).entries if raw else ()


def compute_job_stake(state: StateView, job: JobParams) -> list[int]:
    """Stake per uid of the job (the hotkey's stake, 0 for an empty slot)."""
    stakes = []
    for uid in range(get_job_state(state, job).n_uids):
        neuron = get_neuron(state, job.job_id, uid)
        stake = get_stake(state, neuron.hotkey) if neuron else None
        stakes.append(stake.amount if stake else 0)
    return stakes


def require_uid(state: StateView, job: JobParams, hotkey: bytes) -> int:
    uid = get_uid(state, job.job_id, hotkey)
    if uid is None:
        raise TxError("hotkey-not-registered", f"hotkey is not registered on job {job.job_id}")
    return uid


def require_window(job: JobParams, height: int, epoch: int, start: int, end: int, name: str) -> None:
    """The block at `height` must lie in [start, end) of `epoch`: an epoch already over means the window
    closed (a late commit or reveal); an epoch not yet begun is a bad epoch."""
    current = compute_epoch(height, job.tempo)
    if epoch < current:
        raise TxError(f"{name}-window-closed", f"epoch {epoch} is over (current epoch {current})")
    if epoch > current:
        raise TxError("bad-epoch", f"epoch {epoch} has not begun (current epoch {current})")
    offset = compute_epoch_offset(height, job.tempo)
    if not start <= offset < end:
        raise TxError(f"{name}-window-closed", f"block offset {offset} is outside [{start}, {end})")


def credit(state: StateOverlay, pubkey: bytes, amount: int) -> None:
    account = get_account(state, pubkey)
    put_account(state, pubkey, Account(account.balance + amount, account.nonce))


def debit(state: StateOverlay, pubkey: bytes, amount: int) -> None:
    account = get_account(state, pubkey)
    if account.balance < amount:
        raise TxError("bad-txns-balance", f"balance {account.balance} < {amount}")
    put_account(state, pubkey, Account(account.balance - amount, account.nonce))


# ----------------------------------------------------------------------------- registration
def apply_register(params, state: StateOverlay, tx, payload: RegisterPayload, height: int) -> None:
    job = get_job_params(params, payload.job_id)
    message = compute_register_message(params.magic, job.job_id, tx.sender, payload.hotkey)
    if not is_valid_schnorr(payload.hotkey, message, payload.hotkey_signature):
        raise TxError("bad-register-sig", "the hotkey did not sign this registration")
    if get_uid(state, job.job_id, payload.hotkey) is not None:
        raise TxError("hotkey-already-registered", f"already on job {job.job_id}")
    owner = get_stake(state, payload.hotkey)
    if owner is not None and owner.coldkey != tx.sender:
        raise TxError("hotkey-owned-by-other-coldkey", "another coldkey owns this hotkey")
    job_state = get_job_state(state, job)
    if job_state.burn > payload.max_burn:
        raise TxError("burn-too-high", f"burn {job_state.burn} above max {payload.max_burn}")
    debit(state, tx.sender, job_state.burn)
    supply = get_supply(state)
    put_supply(state, type(supply)(supply.issued, supply.burned + job_state.burn))
    uid, n_uids = job_state.n_uids, job_state.n_uids + 1
    if job_state.n_uids >= job.max_uids:
        uid, n_uids = find_replaceable_uid(state, job, height), job_state.n_uids
        clear_uid(state, job, uid, n_uids, compute_epoch(height, job.tempo))
    state.put(neuron_key(job.job_id, uid), Neuron(payload.hotkey, tx.sender, height).serialize())
    state.put(uid_key(job.job_id, payload.hotkey), UidRecord(uid).serialize())
    state.put(stats_key(job.job_id, uid), NeuronStats(last_update=height).serialize())
    if owner is None:
        state.put(stake_key(payload.hotkey), Stake(tx.sender, 0).serialize())
    state.put(
        job_state_key(job.job_id),
        JobState(
            n_uids, job_state.burn, job_state.registrations_this_epoch + 1, job_state.last_epoch_processed
        ).serialize(),
    )


def find_replaceable_uid(state: StateView, job: JobParams, height: int) -> int:
    """The non-immune uid with the lowest last emission (then the oldest registration, then lowest uid)."""
    candidates = []
    for uid in range(job.max_uids):
        neuron = get_assigned_neuron(state, job.job_id, uid)
        if neuron.registered_height + job.immunity_period <= height:
            candidates.append((get_stats(state, job.job_id, uid).emission, neuron.registered_height, uid))
    if not candidates:
        raise TxError("no-slot-available", "every uid is still immune")
    return min(candidates)[2]


def clear_uid(state: StateOverlay, job: JobParams, uid: int, n_uids: int, epoch: int) -> None:
    """Free a slot for a new hotkey: its mapping, its bonds, every bond held toward it, and what the
    old hotkey committed, revealed or attested for the open epochs (records are keyed by uid, so the
    newcomer would otherwise inherit them: be paid for the old work, or be refused as a duplicate)."""
    old = get_assigned_neuron(state, job.job_id, uid)
    state.put(uid_key(job.job_id, old.hotkey), None)
    state.put(bonds_key(job.job_id, uid), None)
    state.put(endpoint_key(job.job_id, uid), None)
    for key in (work_commit_key, work_reveal_key, weights_commit_key, weights_reveal_key, attest_key, evidence_key):
        state.put(key(job.job_id, epoch, uid), None)
    state.put(attest_key(job.job_id, epoch + 1, uid), None)
    for holder in range(n_uids):
        row = get_bonds_row(state, job.job_id, holder)
        if any(target == uid for target, _ in row):
            kept = tuple((t, v) for t, v in row if t != uid)
            state.put(bonds_key(job.job_id, holder), SparseRow(kept).serialize() if kept else None)


# ----------------------------------------------------------------------------- stake
def apply_add_stake(params, state: StateOverlay, tx, payload: StakePayload, height: int) -> None:
    if payload.amount <= 0:
        raise TxError("bad-stake-amount", "stake amount must be positive")
    stake = get_stake(state, payload.hotkey) or Stake(tx.sender, 0)
    if stake.coldkey != tx.sender:
        raise TxError("hotkey-owned-by-other-coldkey", "another coldkey owns this hotkey")
    debit(state, tx.sender, payload.amount)
    state.put(stake_key(payload.hotkey), Stake(tx.sender, stake.amount + payload.amount).serialize())


def apply_remove_stake(params, state: StateOverlay, tx, payload: StakePayload, height: int) -> None:
    stake = get_stake(state, payload.hotkey)
    if stake is None or stake.coldkey != tx.sender:
        raise TxError("not-stake-owner", "this coldkey holds no stake on the hotkey")
    if payload.amount <= 0 or payload.amount > stake.amount:
        raise TxError("insufficient-stake", f"cannot remove {payload.amount} of {stake.amount}")
    state.put(stake_key(payload.hotkey), Stake(tx.sender, stake.amount - payload.amount).serialize())
    credit(state, tx.sender, payload.amount)


# ----------------------------------------------------------------------------- work commit-reveal
def apply_commit_work(params, state: StateOverlay, tx, payload: WorkCommitPayload, height: int) -> None:
    job = get_job_params(params, payload.job_id)
    uid = require_uid(state, job, tx.sender)
    require_window(job, height, payload.epoch, 0, job.work_commit_end, "work-commit")
    key = work_commit_key(job.job_id, payload.epoch, uid)
    if state.get(key) is not None:
        raise TxError("duplicate-work-commit", "this uid already committed work this epoch")
    state.put(key, WorkCommit(payload.commitment, height).serialize())


def apply_reveal_work(params, state: StateOverlay, tx, payload: WorkRevealPayload, height: int) -> None:
    job = get_job_params(params, payload.job_id)
    uid = require_uid(state, job, tx.sender)
    require_window(job, height, payload.epoch, job.work_commit_end, job.work_reveal_end, "work-reveal")
    committed = get_work_commit(state, job.job_id, payload.epoch, uid)
    if committed is None:
        raise TxError("no-work-commit", "nothing committed to reveal")
    key = work_reveal_key(job.job_id, payload.epoch, uid)
    if state.get(key) is not None:
        raise TxError("duplicate-work-reveal", "already revealed")
    expected = compute_work_commitment(
        payload.artifact_id, tx.sender, payload.epoch, job.job_id, payload.base_checkpoint
    )
    if committed.commitment != expected:
        raise TxError("work-reveal-mismatch", "artifact, hotkey, epoch or base do not match the commitment")
    state.put(key, WorkReveal(payload.artifact_id, payload.base_checkpoint).serialize())


# ----------------------------------------------------------------------------- weights commit-reveal
def apply_commit_weights(params, state: StateOverlay, tx, payload: WeightsCommitPayload, height: int) -> None:
    job = get_job_params(params, payload.job_id)
    uid = require_uid(state, job, tx.sender)
    stake = get_stake(state, tx.sender)
    if stake is None or stake.amount == 0:
        raise TxError("no-validator-stake", "only a staked hotkey sets weights")
    require_window(job, height, payload.epoch, job.work_reveal_end, job.weights_commit_end, "weights-commit")
    key = weights_commit_key(job.job_id, payload.epoch, uid)
    if state.get(key) is not None:
        raise TxError("duplicate-weights-commit", "already committed weights this epoch")
    state.put(key, WeightsCommit(payload.commitment).serialize())


def apply_reveal_weights(params, state: StateOverlay, tx, payload: WeightsRevealPayload, height: int) -> None:
    job = get_job_params(params, payload.job_id)
    uid = require_uid(state, job, tx.sender)
    require_window(job, height, payload.epoch, job.weights_commit_end, job.tempo, "weights-reveal")
    committed = get_weights_commit(state, job.job_id, payload.epoch, uid)
    if committed is None:
        raise TxError("no-weights-commit", "nothing committed to reveal")
    key = weights_reveal_key(job.job_id, payload.epoch, uid)
    if state.get(key) is not None:
        raise TxError("duplicate-weights-reveal", "already revealed")
    n_uids = get_job_state(state, job).n_uids
    targets = [target for target, _ in payload.weights]
    if targets != sorted(set(targets)) or (targets and targets[-1] >= n_uids):
        raise TxError("bad-weights", "uids must be increasing, unique and registered")
    expected = compute_weights_commitment(payload.weights, payload.salt, tx.sender, payload.epoch, job.job_id)
    if committed.commitment != expected:
        raise TxError("weights-reveal-mismatch", "weights or salt do not match the commitment")
    state.put(key, SparseRow(payload.weights).serialize())


# ----------------------------------------------------------------------------- checkpoints
def apply_attest_checkpoint(params, state: StateOverlay, tx, payload: CheckpointAttestPayload, height: int) -> None:
    job = get_job_params(params, payload.job_id)
    uid = require_uid(state, job, tx.sender)
    stake = get_stake(state, tx.sender)
    if stake is None or stake.amount == 0:
        raise TxError("no-validator-stake", "only a staked hotkey attests checkpoints")
    current = compute_epoch(height, job.tempo)
    if payload.epoch not in (current, current + 1):
        raise TxError("bad-epoch", f"attest the base of epoch {current} or {current + 1}")
    if state.get(attest_key(job.job_id, payload.epoch, uid)) is not None:
        raise TxError("duplicate-attestation", "this uid already attested this epoch")
    state.put(attest_key(job.job_id, payload.epoch, uid), Attestation(payload.checkpoint).serialize())
    stakes = compute_job_stake(state, job)
    attested = compute_attested_stake(state, job, payload.epoch, payload.checkpoint, stakes)
    state.put(attest_total_key(job.job_id, payload.epoch, payload.checkpoint), AttestedStake(attested).serialize())
    record = checkpoint_key(job.job_id, payload.epoch)
    if state.get(record) is None and attested * 10_000 > sum(stakes) * job.checkpoint_quorum_bps:
        state.put(record, CheckpointRecord(payload.checkpoint, height).serialize())


def compute_attested_stake(state: StateView, job: JobParams, epoch: int, checkpoint: bytes, stakes: list[int]) -> int:
    """The current stake of the uids that attested `checkpoint` for `epoch`. Counted afresh at every
    attestation, never accumulated: stake moved from an attesting hotkey to another one that then
    attests counts once, on the hotkey that holds it now."""
    return sum(
        stake
        for uid, stake in enumerate(stakes)
        if stake and get_attestation(state, job.job_id, epoch, uid) == Attestation(checkpoint)
    )


# ----------------------------------------------------------------------------- endpoints
def apply_announce_endpoint(params, state: StateOverlay, tx, payload: EndpointPayload, height: int) -> None:
    """Where a registered uid serves (an inference miner's API): validators and gateways read it from chain."""
    job = get_job_params(params, payload.job_id)
    uid = require_uid(state, job, tx.sender)
    ip6 = ipaddress.IPv6Address(payload.ip)
    address: ipaddress.IPv4Address | ipaddress.IPv6Address = ip6.ipv4_mapped or ip6
    if payload.port == 0 or address.is_unspecified or address.is_multicast:
        raise TxError("bad-endpoint", f"cannot serve on {address} port {payload.port}")
    state.put(endpoint_key(job.job_id, uid), Endpoint(payload.ip, payload.port, height).serialize())


# ----------------------------------------------------------------------------- audit evidence
def apply_publish_evidence(params, state: StateOverlay, tx, payload: EvidencePayload, height: int) -> None:
    """Record failed-audit evidence ids against miners' revealed work, for every validator to fetch,
    re-check and zero the miner by. The chain cannot replay training, so it checks only what it can:
    a permitted validator, the window (after the work reveals, before the weight commits close, so the
    other validators can read it before they commit), at most MAX_EVIDENCE_PER_TX entries on
    increasing uids that revealed work this epoch, known reason codes, one entry per (publisher,
    miner) and epoch. Whether a record holds is for each validator's replay to say; the consensus
    zeroes the miner through the weights of the validators that re-checked it (Yuma)."""
    job = get_job_params(params, payload.job_id)
    uid = require_uid(state, job, tx.sender)
    if not compute_validator_permits(compute_job_stake(state, job), job.max_validators)[uid]:
        raise TxError("no-validator-permit", "only a permitted validator publishes audit evidence")
    require_window(job, height, payload.epoch, job.work_reveal_end, job.weights_commit_end, "evidence")
    if not 1 <= len(payload.entries) <= MAX_EVIDENCE_PER_TX:
        raise TxError("bad-evidence-count", f"{len(payload.entries)} entries, 1 to {MAX_EVIDENCE_PER_TX} allowed")
    targets = [target for target, _, _ in payload.entries]
    if targets != sorted(set(targets)):
        raise TxError("bad-evidence-uid", "miner uids must be increasing and unique")
    for target, reason, evidence_id in payload.entries:
        if reason not in EvidenceReason._value2member_map_:
            raise TxError("bad-evidence-reason", f"unknown reason code {reason}")
        if get_work_reveal(state, job.job_id, payload.epoch, target) is None:
            raise TxError("evidence-without-reveal", f"uid {target} revealed no work in epoch {payload.epoch}")
        entries = get_evidence(state, job.job_id, payload.epoch, target)
        if any(entry.publisher == uid for entry in entries):
            raise TxError("duplicate-evidence", f"this uid already published evidence against uid {target}")
        added = EvidenceList(entries + (EvidenceEntry(uid, reason, evidence_id, height),))
        state.put(evidence_key(job.job_id, payload.epoch, target), added.serialize())


COORD_APPLIERS: dict[int, Callable] = {
    CoordKind.REGISTER: apply_register,
    CoordKind.ADD_STAKE: apply_add_stake,
    CoordKind.REMOVE_STAKE: apply_remove_stake,
    CoordKind.COMMIT_WORK: apply_commit_work,
    CoordKind.REVEAL_WORK: apply_reveal_work,
    CoordKind.COMMIT_WEIGHTS: apply_commit_weights,
    CoordKind.REVEAL_WEIGHTS: apply_reveal_weights,
    CoordKind.ATTEST_CHECKPOINT: apply_attest_checkpoint,
    CoordKind.ANNOUNCE_ENDPOINT: apply_announce_endpoint,
    CoordKind.PUBLISH_EVIDENCE: apply_publish_evidence,
}
