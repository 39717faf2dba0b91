"""Arguments and set-up shared by `hashgrad miner` and `hashgrad validator`."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from hashgrad.cli.node_options import add_node_arguments, connect_from_args
from hashgrad.roles.common import get_work_overrides, get_work_preset, load_job
from hashgrad.roles.keys import RoleKeys


def add_role_arguments(parser) -> None:
    add_node_arguments(parser)
    parser.add_argument(
        "--keyfile", type=Path, required=True, help="JSON with the coldkey and hotkey secrets (mode 0600)"
    )
    parser.add_argument("--job", type=int, default=0)
    parser.add_argument(
        "--dataset", type=Path, required=True, help="dataset manifest (from `hashgrad work dataset build`)"
    )
    parser.add_argument("--log-file", type=Path, help="also log to this file")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or mps (default: the best available)")
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16"),
        help="training precision: fp32, or bf16 autocast where the device has it (the job must accept it)",
    )


def get_runtime(args):
    """The role's hardware.Runtime from --device and --precision (checked against this machine)."""
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.hardware import build_runtime

    return build_runtime(getattr(args, "device", "cpu"), getattr(args, "precision", "fp32"))


def setup_role(args, role: str):
    """(client, keys, job, work params, dataset, stop()) for a role process."""
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.data import load_dataset
    from hashgrad.work.miner import set_determinism_pins
    from hashgrad.work.params import get_preset

    handlers = [logging.StreamHandler(sys.stderr)]
    if args.log_file:
        handlers.append(logging.FileHandler(args.log_file))
    logging.basicConfig(level=logging.INFO, handlers=handlers, format=f"%(asctime)s {role} %(levelname)s %(message)s")
    client = connect_from_args(args)
    job = load_job(client.params, args.job)
    work_params = get_preset(get_work_preset(job), job_id=job.job_id, **get_work_overrides(job))
    set_determinism_pins(threads=1, device=get_runtime(args).device)
    dataset = load_dataset(args.dataset, fetch=client.get_artifact)  # missing token shards come from peers by hash
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    return client, RoleKeys.load(args.keyfile), job, work_params, dataset, stopping.is_set
