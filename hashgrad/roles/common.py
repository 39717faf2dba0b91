"""Pieces both training roles share: job parameters from the chain, registration, logging, the loop clock."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass

from hashgrad.chain.coordination_make import make_commit_weights, make_register, make_stake
from hashgrad.chain.coordination_rules import get_job_params
from hashgrad.chain.jobs import JobParams
from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.client import NodeClient, wait_until
from hashgrad.roles.keys import RoleKeys

log = logging.getLogger("hashgrad.roles")


@dataclass
class EpochClock:
    """Where the chain is in a job's epoch rhythm, as seen for the next block."""

    height: int
    epoch: int
    offset: int

    @classmethod
    def read(cls, client: NodeClient, job: JobParams) -> EpochClock:
        info = client.get_job(job.job_id)
        return cls(info.height, info.next_block_epoch, info.next_block_offset)


# work_spec keys a job may set beside its preset: the rhythm of rounds inside its epochs (positive
# integers), and the share of rounds a validator loss-tests (in (0, 1])
WORK_SPEC_OVERRIDES = ("rounds_per_epoch", "inner_steps", "score_fraction")


def get_work_spec(job: JobParams) -> dict:
    try:
        spec = json.loads(job.work_spec)
    except ValueError:
        raise HashgradError("bad-work-spec", f"job {job.job_id} work_spec is not JSON") from None
    return spec if isinstance(spec, dict) else {}


def get_work_preset(job: JobParams) -> str:
    return get_work_spec(job).get("preset", "demo")


def get_work_overrides(job: JobParams) -> dict[str, int | float]:
    """The job's own values for WORK_SPEC_OVERRIDES, checked, e.g. {"rounds_per_epoch": 2}."""
    spec = get_work_spec(job)
    overrides = {key: spec[key] for key in WORK_SPEC_OVERRIDES if key in spec}
    for key, value in overrides.items():
        if key == "score_fraction":
            if type(value) not in (int, float) or not 0 < value <= 1:
                raise HashgradError("bad-work-spec", f"job {job.job_id} work_spec {key} must be in (0, 1]")
        elif type(value) is not int or value <= 0:
            raise HashgradError("bad-work-spec", f"job {job.job_id} work_spec {key} must be a positive integer")
    return overrides


def get_registration(client: NodeClient, keys: RoleKeys, job_id: int) -> int | None:
    return client.get_account_of(keys.hotkey.pubkey).get_uid(job_id)


def ensure_registered(client: NodeClient, keys: RoleKeys, job: JobParams, stop, timeout: float = 120.0) -> int:
    """Register the hotkey on the job (paying the burn from the coldkey) unless it already is; its uid."""
    uid = get_registration(client, keys, job.job_id)
    if uid is not None:
        return uid
    burn = client.get_job(job.job_id).burn
    nonce = client.get_next_nonce(keys.coldkey.pubkey)
    client.submit(make_register(keys.coldkey, keys.hotkey, client.params.magic, nonce, job.job_id, burn * 2))
    log.info("registration sent for job %d (burn %d)", job.job_id, burn)
    if not wait_until(lambda: get_registration(client, keys, job.job_id) is not None, timeout, 0.5, stop):
        raise HashgradError("registration-timeout", f"hotkey not registered on job {job.job_id} in {timeout} s")
    return get_registration(client, keys, job.job_id)


def ensure_stake(client: NodeClient, keys: RoleKeys, amount: int, stop, timeout: float = 120.0) -> None:
    """Bring the hotkey's stake to at least `amount` from the coldkey."""
    staked = client.get_account_of(keys.hotkey.pubkey).stake
    if staked >= amount:
        return
    client.submit_built(make_stake, keys.coldkey, keys.hotkey.pubkey, amount - staked)
    if not wait_until(lambda: client.get_account_of(keys.hotkey.pubkey).stake >= amount, timeout, 0.5, stop):
        raise HashgradError("stake-timeout", f"stake not confirmed in {timeout} s")


def submit_quietly(action: str, fn, *args) -> bool:
    """Submit a transaction; a rejection (window closed, duplicate...) is logged, not fatal."""
    try:
        fn(*args)
        return True
    except RpcError as exc:
        log.warning("%s rejected: %s", action, exc)
        return False


def commit_weights(client: NodeClient, keys: RoleKeys, job_id: int, epoch: int, weights) -> bytes | None:
    """Commit a validator's weights for `epoch` with a fresh salt; the salt to reveal with, or None
    when the node refused the commit (logged)."""
    salt = os.urandom(32)
    committed = submit_quietly(
        "weights commit", client.submit_built, make_commit_weights, keys.hotkey, job_id, epoch, weights, salt
    )
    return salt if committed else None


def run_epoch_loop(client: NodeClient, job: JobParams, step, stop, poll_s: float) -> None:
    """Call step(clock) on every poll until stop(); a failed node call is logged and retried.

    Whatever one input does, the loop goes on: a bad artifact, reply or checkpoint raises the project's
    error (its sender is zeroed by the scoring that met it); anything else is a bug, logged with its
    traceback, and must still not stop a validator that every miner depends on."""
    while not stop():
        try:
            step(EpochClock.read(client, job))
        except RpcError as exc:
            log.warning("node call failed: %s", exc)
        except HashgradError as exc:
            log.warning("epoch step failed: %s", exc)
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("epoch step failed unexpectedly")
        time.sleep(poll_s)


def load_job(params, job_id: int) -> JobParams:
    return get_job_params(params, job_id)
