"""`hashgrad job JOB`: a job's definition, registry counters, pool and where the chain stands in its
epoch, from the node's `getjob` (`--json` for the raw result)."""

from __future__ import annotations

import json

from hashgrad.cli.node_options import add_node_arguments, connect_from_args
from hashgrad.node.replies import JobInfo
from hashgrad.wallet.amounts import format_amount
from hashgrad.wallet.coordination import check_job_id

JOB_DESCRIPTION = """\
A job (Bittensor's subnet): its name, kind and definition hash, tempo and windows, registry (uids,
burn price), its work pool, and the next block's epoch, offset and phase. Window offsets count from
0 at the first block of an epoch (epoch e covers heights e*tempo+1 .. (e+1)*tempo):
work commit [0, work_commit_end), work reveal [work_commit_end, work_reveal_end), weights commit
[work_reveal_end, weights_commit_end), weights reveal [weights_commit_end, tempo).
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "job", help="a job's definition, burn, pool and epoch phase", description=JOB_DESCRIPTION
    )
    parser.add_argument("job", type=int, help="job id")
    parser.add_argument("--json", action="store_true", help="print the getjob result as JSON")
    add_node_arguments(parser)
    parser.set_defaults(func=run_job)


def run_job(args) -> int:

    check_job_id(args.job)
    info = connect_from_args(args).get_job(args.job)
    if args.json:
        print(json.dumps(info.json, indent=2))
        return 0
    print(format_job(info))
    return 0


def format_job(info: JobInfo) -> str:
    checkpoint = info.checkpoint
    lines = [
        f"job            {info.job}  {info.name} ({info.kind})",
        f"definition     {info.definition_hash.hex()}",
        f"tempo          {info.tempo} blocks; windows: work commit [0, {info.work_commit_end}), "
        f"work reveal [{info.work_commit_end}, {info.work_reveal_end}), "
        f"weights commit [{info.work_reveal_end}, {info.weights_commit_end}), "
        f"weights reveal [{info.weights_commit_end}, {info.tempo})",
        f"uids           {info.n_uids} of {info.max_uids} (validators: at most {info.max_validators}; "
        f"immunity {info.immunity_period} blocks)",
        f"burn           {format_amount(info.burn)}  ({info.registrations_this_epoch} registrations this epoch)",
        f"pool           {format_amount(info.pool)}",
        f"height         {info.height}; next block: epoch {info.next_block_epoch}, "
        f"offset {info.next_block_offset}, phase {info.next_block_phase}",
        f"processed      up to epoch {info.last_epoch_processed}",
        "checkpoint     "
        + (
            f"{checkpoint.hash.hex()} (epoch {checkpoint.epoch}, height {checkpoint.height})"
            if checkpoint
            else "none recorded"
        ),
    ]
    return "\n".join(lines)
