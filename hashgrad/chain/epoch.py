"""Epoch processing, part of block connect: at the last block of each job's epoch, run Yuma
consensus over the revealed weights of permitted validators, pay the job's pool to miners
(incentive) and validators (dividends), store bonds and per-uid outputs, adapt the burn price.

Everything is integer arithmetic (the incentive package computes in I32F32), so every node gets
the same bits. The consensus itself (permits by stake, then Yuma) is
`chain.job_epoch.compute_job_consensus`, the one epoch computation the swarm runs too. With
`require_work_reveal`, weight set on a uid that revealed no work this epoch counts as zero, so a miner that
commits and never reveals earns nothing.
"""

from __future__ import annotations

from hashgrad.chain.coordination import (
    JobState,
    NeuronStats,
    SparseRow,
    bonds_key,
    job_state_key,
    stats_key,
    work_reveal_key,
)
from hashgrad.chain.coordination_rules import (
    compute_job_stake,
    credit,
    get_assigned_neuron,
    get_bonds_row,
    get_job_state,
    get_revealed_weights,
    get_stats,
)
from hashgrad.chain.job_epoch import compute_job_consensus, compute_validator_permits
from hashgrad.chain.jobs import JobParams, compute_epoch, is_epoch_end
from hashgrad.chain.state import StateOverlay, get_pool, put_pool
from hashgrad.incentive.emission import compute_emission_split
from hashgrad.incentive.fixed import fx_to_u16_floor


def process_epochs(params, state: StateOverlay, height: int) -> None:
    for job in params.jobs:
        if is_epoch_end(height, job.tempo):
            process_epoch(state, job, compute_epoch(height, job.tempo), height)


def get_weights_matrix(state, job: JobParams, epoch: int, n: int, permits: list[bool]) -> list[list[int]]:
    revealed_work = [
        not job.require_work_reveal or state.get(work_reveal_key(job.job_id, epoch, uid)) is not None
        for uid in range(n)
    ]
    matrix = [[0] * n for _ in range(n)]
    for uid in range(n):
        row = get_revealed_weights(state, job.job_id, epoch, uid) if permits[uid] else None
        for target, value in row or ():
            if target < n and revealed_work[target]:
                matrix[uid][target] = value
    return matrix


def process_epoch(state: StateOverlay, job: JobParams, epoch: int, height: int) -> None:
    job_state = get_job_state(state, job)
    n = job_state.n_uids
    stakes = compute_job_stake(state, job)
    permits = compute_validator_permits(stakes, job.max_validators)
    weights = get_weights_matrix(state, job, epoch, n, permits)
    if n and any(any(row) for row in weights):
        pay_epoch(state, job, epoch, height, stakes, permits, weights)
    put_burn_update(state, job, job_state, epoch)


def pay_epoch(
    state: StateOverlay,
    job: JobParams,
    epoch: int,
    height: int,
    stakes: list[int],
    permits: list[bool],
    weights: list[list[int]],
) -> None:
    n = len(stakes)
    bonds = [[0] * n for _ in range(n)]
    for uid in range(n):
        for target, value in get_bonds_row(state, job.job_id, uid):
            if target < n:
                bonds[uid][target] = value
    result = compute_job_consensus(weights, stakes, bonds, job)
    pool = get_pool(state, job.job_id)
    permitted_stake = [s if p else 0 for s, p in zip(stakes, permits)]
    split = compute_emission_split(
        pool, result.incentive, result.dividends, permitted_stake, job.miner_share_bps, 10_000 - job.miner_share_bps
    )
    paid = 0
    for uid in range(n):
        neuron = get_assigned_neuron(state, job.job_id, uid)
        emission = split.miner_emission[uid] + split.validator_emission[uid]
        if emission:
            credit(state, neuron.hotkey, emission)
            paid += emission
        previous = get_stats(state, job.job_id, uid)
        stats = NeuronStats(
            epoch,
            fx_to_u16_floor(result.consensus[uid]),
            fx_to_u16_floor(result.incentive[uid]),
            fx_to_u16_floor(result.dividends[uid]),
            fx_to_u16_floor(result.trust[uid]),
            fx_to_u16_floor(result.validator_trust[uid]),
            permits[uid],
            emission,
            previous.total_earned + emission,
            height if any(weights[uid]) else previous.last_update,
        )
        state.put(stats_key(job.job_id, uid), stats.serialize())
        row = tuple((target, value) for target, value in enumerate(result.bonds[uid]) if value)
        state.put(bonds_key(job.job_id, uid), SparseRow(row).serialize() if row else None)
    put_pool(state, job.job_id, pool - paid)


def put_burn_update(state: StateOverlay, job: JobParams, job_state: JobState, epoch: int) -> None:
    """Subtensor's rule: burn *= (registrations + target) / (2 * target), clamped to [min, max]."""
    target = max(job.target_registrations_per_epoch, 1)
    burn = job_state.burn * (job_state.registrations_this_epoch + target) // (2 * target)
    burn = min(max(burn, job.min_burn), job.max_burn)
    state.put(job_state_key(job.job_id), JobState(job_state.n_uids, burn, 0, epoch).serialize())
