"""Arguments and set-up shared by `hashgrad miner` and `hashgrad validator`."""
from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from hashgrad.cli.node_options import add_node_arguments, connect_from_args
from hashgrad.roles.keys import RoleKeys
from hashgrad.roles.common import get_work_preset, load_job


def add_role_arguments(parser) -> None:
    add_node_arguments(parser)
    parser.add_argument("--keyfile", type=Path, required=True, help="JSON with the coldkey and hotkey secrets (mode 0600)")
    parser.add_argument("--job", type=int, default=0)
    parser.add_argument("--dataset", type=Path, required=True, help="dataset manifest (from `hashgrad work dataset build`)")
    parser.add_argument("--log-file", type=Path, help="also log to this file")


def setup_role(args, role: str):
    """(client, keys, job, work params, dataset, stop()) for a role process."""
    from hashgrad.work.data import load_dataset
    from hashgrad.work.miner import set_determinism_pins
    from hashgrad.work.params import get_preset

    handlers = [logging.StreamHandler(sys.stderr)]
    if args.log_file:
        handlers.append(logging.FileHandler(args.log_file))
    logging.basicConfig(level=logging.INFO, handlers=handlers,
                        format=f"%(asctime)s {role} %(levelname)s %(message)s")
    client = connect_from_args(args)
    job = load_job(client.params, args.job)
    work_params = get_preset(get_work_preset(job), job_id=job.job_id)
    set_determinism_pins(threads=1)
    dataset = load_dataset(args.dataset, fetch=client.get_artifact)  # missing token shards come from peers by hash
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    return client, RoleKeys.load(args.keyfile), job, work_params, dataset, stopping.is_set
