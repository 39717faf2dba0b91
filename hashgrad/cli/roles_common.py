"""Arguments and set-up shared by `hashgrad miner` and `hashgrad validator`."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from hashgrad.cli.device_options import add_device_argument
from hashgrad.cli.node_options import add_node_arguments, connect_from_args
from hashgrad.errors import HashgradError
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
    add_device_argument(parser)
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16"),
        help="training precision: fp32, or bf16 autocast where the device has it (the job must accept it); "
        "inference jobs run fp32",
    )


def get_runtime(args):
    """The role's hardware.Runtime from --device and --precision (checked against this machine)."""
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.hardware import build_runtime

    return build_runtime(getattr(args, "device", "cpu"), getattr(args, "precision", "fp32"))


def get_inference_device(args, job):
    """The device an inference role (job 1) serves or verifies on: `--device`, checked as for training;
    inference runs fp32 (serve.verify's tolerances are an fp32 model's), so `--precision bf16` is refused."""
    if getattr(args, "precision", "fp32") != "fp32":
        raise HashgradError("bad-precision", f"job {job.job_id} (inference) runs fp32; --precision is for training")
    return get_runtime(args).device


def setup_role(args, role: str):
    """(client, keys, job, work params, dataset, stop()) for a role process."""
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.data import load_dataset
    from hashgrad.work.miner import set_determinism_pins
    from hashgrad.work.params import get_preset

    runtime = get_runtime(args)  # an unknown or missing device fails here, before anything else starts
    handlers = [logging.StreamHandler(sys.stderr)]
    if args.log_file:
        handlers.append(logging.FileHandler(args.log_file))
    logging.basicConfig(level=logging.INFO, handlers=handlers, format=f"%(asctime)s {role} %(levelname)s %(message)s")
    client = connect_from_args(args)
    job = load_job(client.params, args.job)
    work_params = get_preset(get_work_preset(job), job_id=job.job_id, **get_work_overrides(job))
    set_determinism_pins(threads=1, device=runtime.device)
    dataset = load_dataset(args.dataset, fetch=client.get_artifact)  # missing token shards come from peers by hash
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    return client, RoleKeys.load(args.keyfile), job, work_params, dataset, stopping.is_set
