"""A job's epoch consensus: (u16 weight rows, stakes, stored bonds, job) -> Yuma result. Pure, integer.

The one epoch computation of the network. Block connect (`chain/epoch.py`) runs it over the
revealed weights and pays by its incentive and dividends; the in-process swarm (`work/swarm.py`,
what bench/bench_training.py runs) runs it over its validators' weights and aggregates by the same
incentive; the validator role aggregates by the incentive the chain stored, which is this result
through `compute_incentive_u16`. So the bench measures the network as it runs.

Validator permits go to the `max_validators` uids with the most stake (ties to the lower uid).
"""

from __future__ import annotations

from collections.abc import Sequence

from hashgrad.chain.jobs import JobParams
from hashgrad.incentive.fixed import fx_to_u16_floor
from hashgrad.incentive.yuma import YumaParams, YumaResult, compute_yuma_epoch


def compute_validator_permits(stakes: Sequence[int], max_validators: int) -> list[bool]:
    ranked = sorted((uid for uid, s in enumerate(stakes) if s > 0), key=lambda uid: (-stakes[uid], uid))
    chosen = set(ranked[:max_validators])
    return [uid in chosen for uid in range(len(stakes))]


def get_yuma_params(job: JobParams) -> YumaParams:
    return YumaParams(
        kappa_u16=job.kappa_u16,
        bonds_penalty_u16=job.bonds_penalty_u16,
        bond_alpha_ppm=job.bond_alpha_ppm,
        yuma3=job.yuma3,
        liquid_alpha=job.liquid_alpha,
        alpha_low_u16=job.alpha_low_u16,
        alpha_high_u16=job.alpha_high_u16,
        alpha_sigmoid_steepness=job.alpha_sigmoid_steepness,
    )


def compute_job_consensus(
    weights: Sequence[Sequence[int]], stakes: Sequence[int], bonds: Sequence[Sequence[int]], job: JobParams
) -> YumaResult:
    """One epoch of Yuma consensus for `job`: weights (n x n, u16 rows of every uid; rows of uids
    without a permit are ignored), stakes in base units, bonds as stored. Permits come from stake."""
    permits = compute_validator_permits(stakes, job.max_validators)
    return compute_yuma_epoch(weights, stakes, bonds, get_yuma_params(job), permits)


def compute_incentive_u16(result: YumaResult) -> tuple[int, ...]:
    """Per uid, the incentive as the chain stores it: the weight aggregation gives each update."""
    return tuple(fx_to_u16_floor(value) for value in result.incentive)
