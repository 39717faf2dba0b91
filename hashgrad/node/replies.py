"""Typed replies of a hashgrad node's JSON-RPC methods, each checked once here on its way in.

A node's reply comes from outside the process: every field a caller uses is checked for its type,
range and hex length before it becomes a frozen dataclass, and anything else raises
`RpcError("bad-response")` naming the method and the field. Hashes and keys become bytes; amounts
stay integer base units; shares stored on chain as u16 are the floats in [0, 1] the node shows.
Each typed reply keeps the checked JSON object (`json`) for callers that show it as the node sent it
(`--json` output, the explorer's API).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hashgrad.chain.coordination_tx import EVIDENCE_REASON_NAMES
from hashgrad.chain.encoding import parse_hex
from hashgrad.errors import RpcError
from hashgrad.incentive.fixed import U16_MAX
from hashgrad.p2p.rounds import MAX_ROUND, RoundAnnouncement

HASH_SIZE = 32
U32_MAX = 2**32 - 1
MAX_INT = 2**63 - 1  # amounts, heights, counters: a 64-bit signed integer at most


# ---------------------------------------------------------------- field checks
def bad_response(method: str, detail: str) -> RpcError:
    return RpcError("bad-response", f"{method}: {detail}")


def get_object(reply, method: str) -> dict:
    """The reply as a JSON object (an RpcError from a batch is raised as it is)."""
    if isinstance(reply, RpcError):
        raise reply
    if not isinstance(reply, dict):
        raise bad_response(method, "did not return an object")
    return reply


def get_list(reply, method: str) -> list:
    if isinstance(reply, RpcError):
        raise reply
    if not isinstance(reply, list):
        raise bad_response(method, "did not return a list")
    return reply


def get_int(obj: dict, name: str, method: str, minimum: int = 0, maximum: int = MAX_INT) -> int:
    value = obj.get(name)
    if type(value) is not int or not minimum <= value <= maximum:
        raise bad_response(method, f"{name!r} is not an integer in [{minimum}, {maximum}]")
    return value


def get_str(obj: dict, name: str, method: str, max_len: int = 1024) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or len(value) > max_len:
        raise bad_response(method, f"{name!r} is not a string of at most {max_len} characters")
    return value


def get_bool(obj: dict, name: str, method: str) -> bool:
    value = obj.get(name)
    if not isinstance(value, bool):
        raise bad_response(method, f"{name!r} is not true or false")
    return value


def get_share(obj: dict, name: str, method: str) -> float:
    value = obj.get(name)
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise bad_response(method, f"{name!r} is not a share in [0, 1]")
    return float(value)


def get_hash(obj: dict, name: str, method: str) -> bytes:
    """32 bytes from 64 hex characters, in the order the node prints them."""
    return parse_hex(obj.get(name), f"{method}: {name!r}", size=HASH_SIZE, reason="bad-response", error=RpcError)


def get_optional_hash(obj: dict, name: str, method: str) -> bytes | None:
    return None if obj.get(name) is None else get_hash(obj, name, method)


def get_rows(obj: dict, name: str, method: str) -> list[dict]:
    rows = obj.get(name)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise bad_response(method, f"{name!r} is not a list of objects")
    return rows


# ---------------------------------------------------------------- getblockchaininfo
@dataclass(frozen=True)
class ChainInfo:
    """Which network a node runs and its tip."""

    chain: str
    blocks: int
    best_hash: bytes  # display order, as the node prints it
    json: dict = field(repr=False, compare=False)


def parse_chain_info(reply) -> ChainInfo:
    m = "getblockchaininfo"
    obj = get_object(reply, m)
    return ChainInfo(get_str(obj, "chain", m, 32), get_int(obj, "blocks", m), get_hash(obj, "bestblockhash", m), obj)


# ---------------------------------------------------------------- getaccount
@dataclass(frozen=True)
class Account:
    """An account as the node sees it: at the tip, after its own pending transactions, and its stake
    (as a hotkey) with its registrations, job -> uid."""

    address: str
    balance: int
    nonce: int
    pending_nonce: int
    pending_balance: int  # balance once the sender's pending transactions apply: what can be spent now
    pending_txs: int
    height: int
    stake: int
    registrations: dict[int, int] = field(hash=False)
    json: dict = field(repr=False, compare=False)

    def get_uid(self, job_id: int) -> int | None:
        return self.registrations.get(job_id)


ACCOUNT_INT_FIELDS = ("balance", "nonce", "pending_nonce", "pending_balance", "pending_txs", "height", "stake")


def parse_account(reply, address: str) -> Account:
    m = "getaccount"
    obj = get_object(reply, m)
    if get_str(obj, "address", m, 90).lower() != address.lower():  # bech32m: either case names the same key
        raise bad_response(m, f"asked for {address}, the reply is for another address")
    values = {name: get_int(obj, name, m) for name in ACCOUNT_INT_FIELDS}
    registrations = {
        get_int(r, "job", m, 0, U16_MAX): get_int(r, "uid", m, 0, U16_MAX) for r in get_rows(obj, "registrations", m)
    }
    return Account(address=obj["address"], registrations=registrations, json=obj, **values)


# ---------------------------------------------------------------- getjob
@dataclass(frozen=True)
class CheckpointRecord:
    """The latest checkpoint a job recorded on chain: its hash, epoch and the height that recorded it."""

    hash: bytes
    epoch: int
    height: int


@dataclass(frozen=True)
class JobInfo:
    """A job's definition, registry counters, pool and where the chain is in its epoch (for the next block).
    Window ends are offsets in the epoch: work commit [0, work_commit_end), work reveal up to
    work_reveal_end, weights commit up to weights_commit_end, weights reveal up to tempo."""

    job: int
    name: str
    kind: str
    definition_hash: bytes
    work_spec: str
    tempo: int
    work_commit_end: int
    work_reveal_end: int
    weights_commit_end: int
    max_uids: int
    max_validators: int
    immunity_period: int
    burn: int
    n_uids: int
    registrations_this_epoch: int
    pool: int
    height: int
    next_block_epoch: int
    next_block_offset: int
    next_block_phase: str
    last_epoch_processed: int  # -1 before the first
    checkpoint: CheckpointRecord | None
    json: dict = field(repr=False, compare=False)


JOB_INT_FIELDS = (
    "tempo",
    "max_uids",
    "max_validators",
    "immunity_period",
    "burn",
    "n_uids",
    "registrations_this_epoch",
    "pool",
    "height",
    "next_block_offset",
)
JOB_WINDOW_FIELDS = ("work_commit_end", "work_reveal_end", "weights_commit_end")


def parse_job(reply, job_id: int) -> JobInfo:
    m = "getjob"
    obj = get_object(reply, m)
    if get_int(obj, "job", m, 0, U16_MAX) != job_id:
        raise bad_response(m, f"asked for job {job_id}, the reply is for job {obj['job']}")
    windows = get_object(obj.get("windows"), m)
    recorded = obj.get("checkpoint")
    checkpoint = None
    if recorded is not None:
        recorded = get_object(recorded, m)
        checkpoint = CheckpointRecord(
            get_hash(recorded, "hash", m), get_int(recorded, "epoch", m, 0, U32_MAX), get_int(recorded, "height", m)
        )
    return JobInfo(
        job=job_id,
        name=get_str(obj, "name", m),
        kind=get_str(obj, "kind", m),
        definition_hash=get_hash(obj, "definition_hash", m),
        work_spec=get_str(obj, "work_spec", m, 65536),
        next_block_epoch=get_int(obj, "next_block_epoch", m, 0, U32_MAX),
        next_block_phase=get_str(obj, "next_block_phase", m, 64),
        last_epoch_processed=get_int(obj, "last_epoch_processed", m, -1, U32_MAX),
        checkpoint=checkpoint,
        json=obj,
        **{name: get_int(obj, name, m) for name in JOB_INT_FIELDS},
        **{name: get_int(windows, name, m) for name in JOB_WINDOW_FIELDS},
    )


# ---------------------------------------------------------------- getmetagraph
@dataclass(frozen=True)
class Neuron:
    """One uid of a job: its keys, stake and the outputs of the last epoch it took part in."""

    uid: int
    hotkey: bytes
    address: str  # the hotkey's address
    coldkey: str  # the coldkey's address
    stake: int
    validator_permit: bool
    consensus: float
    incentive: float
    incentive_u16: int  # the incentive as the chain stores it (the weight the next checkpoint gives)
    dividends: float
    trust: float
    emission: int
    total_earned: int
    epoch: int  # the epoch `consensus`..`emission` come from; -1 before its first
    last_update: int
    registration_height: int
    endpoint: str | None  # HOST:PORT an inference miner announced


@dataclass(frozen=True)
class Metagraph:
    job: int
    height: int
    uids: tuple[Neuron, ...]
    json: dict = field(repr=False, compare=False)


def parse_neuron(row: dict, uid: int) -> Neuron:
    m = "getmetagraph"
    if get_int(row, "uid", m, 0, U16_MAX) != uid:
        raise bad_response(m, f"row {uid} holds uid {row['uid']}")
    endpoint = row.get("endpoint")
    if endpoint is not None:
        endpoint = get_str(row, "endpoint", m, 300)
    return Neuron(
        uid=uid,
        hotkey=get_hash(row, "hotkey", m),
        address=get_str(row, "address", m, 90),
        coldkey=get_str(row, "coldkey", m, 90),
        validator_permit=get_bool(row, "validator_permit", m),
        endpoint=endpoint,
        epoch=get_int(row, "epoch", m, -1, U32_MAX),
        stake=get_int(row, "stake", m),
        consensus=get_share(row, "consensus", m),
        incentive=get_share(row, "incentive", m),
        incentive_u16=get_int(row, "incentive_u16", m, 0, U16_MAX),
        dividends=get_share(row, "dividends", m),
        trust=get_share(row, "trust", m),
        emission=get_int(row, "emission", m),
        total_earned=get_int(row, "total_earned", m),
        last_update=get_int(row, "last_update", m),
        registration_height=get_int(row, "registration_height", m),
    )


def parse_metagraph(reply, job_id: int) -> Metagraph:
    m = "getmetagraph"
    obj = get_object(reply, m)
    if get_int(obj, "job", m, 0, U16_MAX) != job_id:
        raise bad_response(m, f"asked for job {job_id}, the reply is for job {obj['job']}")
    rows = get_rows(obj, "uids", m)
    return Metagraph(job_id, get_int(obj, "height", m), tuple(parse_neuron(r, i) for i, r in enumerate(rows)), obj)


# ---------------------------------------------------------------- getepoch
@dataclass(frozen=True)
class WorkCommit:
    uid: int
    commitment: bytes
    height: int


@dataclass(frozen=True)
class WorkReveal:
    uid: int
    artifact_id: bytes
    base_checkpoint: bytes


@dataclass(frozen=True)
class WeightsReveal:
    uid: int
    weights: tuple[tuple[int, int], ...]  # (uid, u16 weight), as the chain stores them


@dataclass(frozen=True)
class EvidenceEntry:
    uid: int  # the miner the evidence is against
    publisher: int  # the validator uid that published it
    reason: str  # replay-mismatch or drift-exceeded
    evidence_id: bytes  # the evidence artifact's id (audit_evidence.compute_evidence_hash)
    height: int


@dataclass(frozen=True)
class EpochInfo:
    """One epoch of a job: its seed, the work and weights submitted in it, and its recorded checkpoint."""

    job: int
    epoch: int
    start_height: int
    end_height: int
    seed: bytes | None  # None until the block before the epoch exists
    checkpoint: bytes | None  # the base checkpoint recorded for this epoch, None until attested
    height: int
    work_commits: tuple[WorkCommit, ...]
    work_reveals: tuple[WorkReveal, ...]
    weight_commits: tuple[int, ...]  # uids
    weight_reveals: tuple[WeightsReveal, ...]
    attestations: dict[int, bytes] = field(hash=False)  # uid -> attested checkpoint
    json: dict = field(repr=False, compare=False)
    evidence: tuple[EvidenceEntry, ...] = ()  # failed-audit evidence published this epoch, in chain order


def parse_weights_row(row: dict) -> WeightsReveal:
    m = "getepoch"
    pairs = row.get("weights")
    if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise bad_response(m, "'weights' is not a list of [uid, weight] pairs")
    weights = tuple((get_int({"u": u}, "u", m, 0, U16_MAX), get_int({"w": w}, "w", m, 0, U16_MAX)) for u, w in pairs)
    return WeightsReveal(get_int(row, "uid", m, 0, U16_MAX), weights)


def parse_epoch(reply, job_id: int, epoch: int) -> EpochInfo:
    m = "getepoch"
    obj = get_object(reply, m)
    if get_int(obj, "job", m, 0, U16_MAX) != job_id or get_int(obj, "epoch", m, 0, U32_MAX) != epoch:
        raise bad_response(m, f"asked for job {job_id} epoch {epoch}, the reply is for another")

    def uid(row: dict) -> int:
        return get_int(row, "uid", m, 0, U16_MAX)

    return EpochInfo(
        job=job_id,
        epoch=epoch,
        start_height=get_int(obj, "start_height", m),
        end_height=get_int(obj, "end_height", m),
        seed=get_optional_hash(obj, "seed", m),
        checkpoint=get_optional_hash(obj, "checkpoint", m),
        height=get_int(obj, "height", m),
        work_commits=tuple(
            WorkCommit(uid(r), get_hash(r, "commitment", m), get_int(r, "height", m))
            for r in get_rows(obj, "work_commits", m)
        ),
        work_reveals=tuple(
            WorkReveal(uid(r), get_hash(r, "artifact_id", m), get_hash(r, "base_checkpoint", m))
            for r in get_rows(obj, "work_reveals", m)
        ),
        weight_commits=tuple(uid(r) for r in get_rows(obj, "weight_commits", m)),
        weight_reveals=tuple(parse_weights_row(r) for r in get_rows(obj, "weight_reveals", m)),
        attestations={uid(r): get_hash(r, "checkpoint", m) for r in get_rows(obj, "attestations", m)},
        json=obj,
        evidence=tuple(parse_evidence_row(r) for r in get_rows(obj, "evidence", m)) if "evidence" in obj else (),
    )


def parse_evidence_row(row: dict) -> EvidenceEntry:
    m = "getepoch"
    reason = get_str(row, "reason", m, 32)
    if reason not in EVIDENCE_REASON_NAMES.values():
        raise bad_response(m, f"unknown evidence reason {reason!r}")
    return EvidenceEntry(
        get_int(row, "uid", m, 0, U16_MAX),
        get_int(row, "publisher", m, 0, U16_MAX),
        reason,
        get_hash(row, "evidence_id", m),
        get_int(row, "height", m),
    )


def parse_round_announcement(row) -> RoundAnnouncement:
    """One listroundartifacts entry, its signature checked (p2p/rounds.py)."""
    method = "listroundartifacts"
    if not isinstance(row, dict):
        raise bad_response(method, "an entry is not an object")
    ann = RoundAnnouncement(
        get_int(row, "job", method, 0, 0xFFFF),
        get_int(row, "epoch", method, 0, 0xFFFFFFFF),
        get_int(row, "round", method, 0, MAX_ROUND),
        get_hash(row, "hotkey", method),
        get_hash(row, "artifact_id", method),
        parse_hex(row.get("signature"), f"{method}: 'signature'", size=64, reason="bad-response", error=RpcError),
    )
    if not ann.is_signed():
        raise bad_response(method, f"announcement of round {ann.key} is not signed by its hotkey")
    return ann
