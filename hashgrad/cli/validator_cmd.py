"""`hashgrad validator`: run a training validator on a job until SIGTERM/SIGINT (see hashgrad.roles.validator)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from hashgrad.chain.jobs import JOB_INFER, get_rounds_per_epoch
from hashgrad.chain.params import COIN
from hashgrad.cli.roles_common import add_role_arguments, get_inference_device, get_runtime, setup_role
from hashgrad.errors import HashgradError
from hashgrad.roles.inference import InferenceValidator


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "validator", help="run a validator (training or inference, by --job) attached to a node"
    )
    add_role_arguments(parser)
    parser.add_argument(
        "--initial-checkpoint",
        type=Path,
        help="training jobs: checkpoint file the job starts from (attested for the first epoch)",
    )
    parser.add_argument("--stake", default="10", help="coins to stake on the hotkey (default 10)")
    parser.add_argument(
        "--audit-probability",
        type=float,
        help="training jobs: replay-audit each update with this probability instead of the job's "
        "(more audits cost this validator compute, and a miner of another class the bandwidth of its reveal)",
    )
    parser.set_defaults(func=run_validator)


def run_validator(args) -> int:
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.model import decode_checkpoint

    try:
        stake = int(Decimal(args.stake) * COIN)
    except ArithmeticError:
        raise HashgradError("bad-amount", f"stake {args.stake!r} is not a number") from None
    client, keys, job, params, dataset, stop = setup_role(args, "validator")
    if job.kind == JOB_INFER:
        InferenceValidator(client, keys, job, dataset, stake, device=get_inference_device(args, job)).run(stop)
        return 0
    # lazy: keeps torch off this command's start-up
    from hashgrad.roles.round_validator import RoundValidator
    from hashgrad.roles.validator import TrainingValidator

    if args.initial_checkpoint is None:
        raise HashgradError("missing-checkpoint", "a training validator needs --initial-checkpoint")
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.job_model import compute_job_params

    initial = args.initial_checkpoint.read_bytes()
    # validated before anything is attested; the job's model family and sizes are the checkpoint's
    params = compute_job_params(params, decode_checkpoint(initial), dataset)
    if args.audit_probability is not None:
        params = replace(params, audit_probability=args.audit_probability).check()
    validator = RoundValidator if get_rounds_per_epoch(job) > 1 else TrainingValidator
    validator(client, keys, job, params, dataset, initial, stake, runtime=get_runtime(args)).run(stop)
    return 0
