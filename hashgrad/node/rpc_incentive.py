"""JSON-RPC methods of the incentive layer: jobs, the metagraph, epochs (commitments, reveals,
attestations, the epoch seed), and the stake and registrations shown by `getaccount`.

Reads go through `node.run_blocking` like every chainstate access, and every record is read through
the chain's typed getters (`coordination_rules.get_*`), never sliced here. Proportions stored on chain
as u16 are shown as floats in [0, 1] (u16 / 65535, for display); revealed weights as the stored u16
integers; amounts in base units.
"""

from __future__ import annotations

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.coordination_rules import (
    get_attestation,
    get_checkpoint_record,
    get_endpoint,
    get_evidence,
    get_job_params,
    get_job_state,
    get_neuron,
    get_revealed_weights,
    get_stake,
    get_stats,
    get_uid,
    get_weights_commit,
    get_work_commit,
    get_work_reveal,
)
from hashgrad.chain.coordination_tx import EVIDENCE_REASON_NAMES
from hashgrad.chain.jobs import (
    MAX_JOB_ID,
    compute_epoch,
    compute_epoch_offset,
    compute_epoch_phase,
    compute_epoch_seed,
    compute_epoch_start_height,
)
from hashgrad.chain.state import get_pool
from hashgrad.errors import HashgradError, RpcError
from hashgrad.incentive.fixed import U16_MAX
from hashgrad.node.rpc_chain import ACCOUNT_EXTENSIONS
from hashgrad.node.rpc_params import RPC_INVALID_PARAMETER, check_param_count, get_param, parse_int


def _job(node, params, index: int = 0):
    job_id = parse_int(get_param(params, index), "job", 0, MAX_JOB_ID)
    try:
        return get_job_params(node.params, job_id)
    except HashgradError as exc:
        raise RpcError("bad-job", exc.detail, RPC_INVALID_PARAMETER) from None


def _latest_checkpoint(chainstate, job, epoch: int):
    for e in range(epoch + 1, max(epoch - 64, -1), -1):
        record = get_checkpoint_record(chainstate, job.job_id, e)
        if record:
            return {"epoch": e, "hash": record.checkpoint.hex(), "height": record.height}
    return None


def _job_info(node, job) -> dict:
    chainstate = node.ledger.chainstate
    height = chainstate.height
    job_state = get_job_state(chainstate, job)
    offset = compute_epoch_offset(height + 1, job.tempo)
    return {
        "job": job.job_id,
        "name": job.name,
        "kind": job.kind,
        "definition_hash": job.definition_hash.hex(),
        "work_spec": job.work_spec,
        "tempo": job.tempo,
        "windows": {
            "work_commit_end": job.work_commit_end,
            "work_reveal_end": job.work_reveal_end,
            "weights_commit_end": job.weights_commit_end,
        },
        "max_uids": job.max_uids,
        "max_validators": job.max_validators,
        "immunity_period": job.immunity_period,
        "burn": job_state.burn,
        "n_uids": job_state.n_uids,
        "registrations_this_epoch": job_state.registrations_this_epoch,
        "last_epoch_processed": job_state.last_epoch_processed,
        "pool": get_pool(chainstate, job.job_id),
        "height": height,
        "next_block_epoch": compute_epoch(height + 1, job.tempo),
        "next_block_offset": offset,
        "next_block_phase": compute_epoch_phase(offset, job),
        "checkpoint": _latest_checkpoint(chainstate, job, compute_epoch(height + 1, job.tempo)),
    }


async def rpc_getjob(node, params):
    """getjob JOB: a job's definition, its registry counters, its pool and where the chain is in its epoch."""
    check_param_count(params, 1, 1)
    job = _job(node, params)
    return await node.run_blocking(_job_info, node, job)


def _metagraph(node, job) -> dict:
    chainstate = node.ledger.chainstate
    hrp = node.params.hrp
    uids = []
    for uid in range(get_job_state(chainstate, job).n_uids):
        neuron = get_neuron(chainstate, job.job_id, uid)
        stake = get_stake(chainstate, neuron.hotkey)
        stats = get_stats(chainstate, job.job_id, uid)
        endpoint = get_endpoint(chainstate, job.job_id, uid)
        uids.append(
            {
                "uid": uid,
                "hotkey": neuron.hotkey.hex(),
                "address": encode_address(hrp, neuron.hotkey),
                "coldkey": encode_address(hrp, neuron.coldkey),
                "stake": stake.amount if stake else 0,
                "validator_permit": stats.validator_permit,
                "consensus": stats.consensus / U16_MAX,
                "incentive": stats.incentive / U16_MAX,
                "incentive_u16": stats.incentive,  # as stored: what the next checkpoint aggregates by
                "dividends": stats.dividends / U16_MAX,
                "trust": stats.trust / U16_MAX,
                "validator_trust": stats.validator_trust / U16_MAX,
                "emission": stats.emission,
                "total_earned": stats.total_earned,
                "epoch": stats.epoch,
                "last_update": stats.last_update,
                "registration_height": neuron.registered_height,
                "endpoint": endpoint.to_host_port() if endpoint else None,
            }
        )
    return {"job": job.job_id, "height": chainstate.height, "uids": uids}


async def rpc_getmetagraph(node, params):
    """getmetagraph JOB: per uid: hotkey, coldkey, stake, validator permit, consensus, incentive, dividends,
    trust, emission of the last epoch, total earned, last update and registration height."""
    check_param_count(params, 1, 1)
    job = _job(node, params)
    return await node.run_blocking(_metagraph, node, job)


def _epoch(node, job, epoch: int) -> dict:
    chainstate = node.ledger.chainstate
    n = get_job_state(chainstate, job).n_uids
    start = compute_epoch_start_height(epoch, job.tempo)
    seed_block = chainstate.get_block_hash(start - 1)
    rows: dict[str, list] = {
        "work_commits": [],
        "work_reveals": [],
        "weight_commits": [],
        "weight_reveals": [],
        "attestations": [],
        "evidence": [],
    }
    for uid in range(n):
        commit = get_work_commit(chainstate, job.job_id, epoch, uid)
        if commit:
            rows["work_commits"].append({"uid": uid, "commitment": commit.commitment.hex(), "height": commit.height})
        reveal = get_work_reveal(chainstate, job.job_id, epoch, uid)
        if reveal:
            rows["work_reveals"].append(
                {"uid": uid, "artifact_id": reveal.artifact_id.hex(), "base_checkpoint": reveal.base_checkpoint.hex()}
            )
        if get_weights_commit(chainstate, job.job_id, epoch, uid):
            rows["weight_commits"].append({"uid": uid})
        weights = get_revealed_weights(chainstate, job.job_id, epoch, uid)
        if weights is not None:
            rows["weight_reveals"].append({"uid": uid, "weights": [list(w) for w in weights]})
        attested = get_attestation(chainstate, job.job_id, epoch, uid)
        if attested:
            rows["attestations"].append({"uid": uid, "checkpoint": attested.checkpoint.hex()})
        for entry in get_evidence(chainstate, job.job_id, epoch, uid):
            rows["evidence"].append(
                {
                    "uid": uid,
                    "publisher": entry.publisher,
                    "reason": EVIDENCE_REASON_NAMES[entry.reason],
                    "evidence_id": entry.evidence_id.hex(),
                    "height": entry.height,
                }
            )
    recorded = get_checkpoint_record(chainstate, job.job_id, epoch)
    return {
        "job": job.job_id,
        "epoch": epoch,
        "start_height": start,
        "end_height": start + job.tempo - 1,
        "seed": compute_epoch_seed(seed_block, job.job_id, epoch).hex() if seed_block else None,
        "checkpoint": recorded.checkpoint.hex() if recorded else None,
        "height": chainstate.height,
        **rows,
    }


async def rpc_getepoch(node, params):
    """getepoch JOB [EPOCH]: an epoch's seed, work commitments and reveals, weight commits and reveals,
    checkpoint attestations, published audit evidence (miner uid, publisher uid, reason, evidence
    artifact id, height) and the recorded checkpoint (default: the epoch of the next block)."""
    check_param_count(params, 1, 2)
    job = _job(node, params)
    current = compute_epoch(node.ledger.chainstate.height + 1, job.tempo)
    epoch = parse_int(get_param(params, 1, current), "epoch", 0, 2**32 - 1)
    return await node.run_blocking(_epoch, node, job, epoch)


def compute_account_incentive_fields(chainstate, pubkey: bytes) -> dict:
    stake = get_stake(chainstate, pubkey)
    registrations = []
    for job in chainstate.params.jobs:
        uid = get_uid(chainstate, job.job_id, pubkey)
        if uid is not None:
            registrations.append({"job": job.job_id, "uid": uid})
    return {"stake": stake.amount if stake else 0, "registrations": registrations}


ACCOUNT_EXTENSIONS.append(compute_account_incentive_fields)
