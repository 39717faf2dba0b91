"""Block subsidy: Bitcoin's halving schedule (zero once the shift reaches 64) and hashgrad's split
of each subsidy between the block maker (coinbase) and the job work pools."""

from __future__ import annotations


def compute_block_subsidy(height: int, initial_subsidy: int, halving_interval: int) -> int:
    halvings = height // halving_interval
    if halvings >= 64:
        return 0
    return initial_subsidy >> halvings


def compute_subsidy_split(
    subsidy: int, block_maker_share_bps: int, job_shares_bps: tuple[tuple[int, int], ...]
) -> tuple[int, dict[int, int]]:
    """(block maker amount, {job id: amount}); the parts sum exactly to the subsidy.

    Integer basis points, floor division; the rounding remainder of the pools goes to the first job.
    """
    maker = subsidy * block_maker_share_bps // 10_000
    work = subsidy - maker
    pools = {job: work * share // 10_000 for job, share in job_shares_bps}
    if pools:
        first = job_shares_bps[0][0]
        pools[first] += work - sum(pools.values())
    else:
        maker = subsidy
    return maker, pools
