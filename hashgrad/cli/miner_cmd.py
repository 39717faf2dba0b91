"""`hashgrad miner`: run a training miner on a job until SIGTERM/SIGINT (see hashgrad.roles.miner)."""

from __future__ import annotations

import os

from hashgrad.chain.jobs import JOB_INFER, get_rounds_per_epoch
from hashgrad.cli.roles_common import add_role_arguments, get_inference_device, get_runtime, setup_role
from hashgrad.errors import HashgradError
from hashgrad.roles.inference import InferenceMiner


def register(subparsers) -> None:
    parser = subparsers.add_parser("miner", help="run a miner (training or inference, by --job) attached to a node")
    add_role_arguments(parser)
    parser.add_argument(
        "--adversary",
        default="honest",
        help="honest (default) or a cheating kind; training jobs: lazy, noise, copycat, replay, "
        "poisoner, sandbagger; inference jobs: stale, other-model, random, truncated, quantized, "
        "replay",
    )
    parser.add_argument("--serve-host", default="127.0.0.1", help="inference jobs: address to serve on")
    parser.add_argument("--serve-port", type=int, default=0, help="inference jobs: port (0 picks a free one)")
    parser.add_argument(
        "--validators-only",
        action="store_true",
        help="inference jobs: answer only requests signed by the job's permitted validators",
    )
    parser.set_defaults(func=run_miner)


def run_miner(args) -> int:
    # lazy: keeps torch off this command's start-up
    from hashgrad.serve.adversaries import SERVER_KINDS as SERVE_KINDS
    from hashgrad.work.adversaries import KINDS as TRAIN_KINDS

    role = f"miner[{args.adversary}]"
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # under torchrun: say which process logs
        role += f" rank {os.environ.get('RANK', '?')}"
    client, keys, job, params, dataset, stop = setup_role(args, role)
    kinds = SERVE_KINDS if job.kind == JOB_INFER else TRAIN_KINDS
    if args.adversary not in kinds:
        raise HashgradError("unknown-miner-kind", f"{args.adversary}; job {job.job_id} knows {', '.join(kinds)}")
    if job.kind == JOB_INFER:
        InferenceMiner(
            client,
            keys,
            job,
            args.adversary,
            args.serve_host,
            args.serve_port,
            validators_only=args.validators_only,
            device=get_inference_device(args, job),
        ).run(stop)
    else:
        # lazy: keeps torch off this command's start-up
        from hashgrad.roles.miner import TrainingMiner
        from hashgrad.roles.round_miner import RoundMiner

        # lazy: keeps torch off this command's start-up
        from hashgrad.work.distributed import build_shard, close_distributed, is_leader

        runtime = get_runtime(args)
        if runtime.precision not in params.precisions:
            raise HashgradError("bad-precision", f"job {job.job_id} accepts {', '.join(params.precisions)}")
        shard = build_shard(runtime.device, params.batch_size)  # under torchrun: data-parallel, rank 0 leads
        if shard and args.adversary != "honest":
            raise HashgradError("bad-arguments", "a data-parallel miner trains honestly")
        try:
            if is_leader():
                miner = RoundMiner if get_rounds_per_epoch(job) > 1 else TrainingMiner
                miner(client, keys, job, params, dataset, args.adversary, runtime=runtime, shard=shard).run(stop)
            else:
                from hashgrad.roles.miner import run_follower

                run_follower(keys, params, dataset, runtime, shard)
        finally:
            close_distributed()
    return 0
