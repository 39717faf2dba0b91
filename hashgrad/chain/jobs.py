"""Jobs: units of useful work with their own registry of miners and validators (Bittensor's subnets).

A job's definition is consensus data fixed at genesis (`ChainParams.jobs`), and the genesis block
commits to the hash of all definitions. An epoch is `tempo` blocks; inside it, block offsets open
and close the windows of the commit → reveal → score → weights rhythm:

    offset 0 .................. work_commit_end ...... work_reveal_end ...... weights_commit_end ...... tempo
           commit work          reveal work            commit weights         reveal weights

Epoch e covers heights e*tempo+1 .. (e+1)*tempo; its consensus and emission run in its last block,
after that block's transactions.
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass

from hashgrad.chain.hashes import sha256, tagged_hash
from hashgrad.incentive.fixed import U16_MAX
from hashgrad.units import COIN

JOB_TRAIN = "train"
JOB_INFER = "infer"
MAX_JOB_ID = 0xFFFF  # job ids are u16 (big-endian in state keys)


@dataclass(frozen=True)
class JobParams:
    job_id: int
    name: str
    kind: str
    tempo: int = 30
    work_commit_end: int = 14
    work_reveal_end: int = 18
    weights_commit_end: int = 26
    max_uids: int = 64
    max_validators: int = 16
    immunity_period: int = 60
    min_burn: int = COIN // 100
    max_burn: int = 100 * COIN
    initial_burn: int = COIN // 10
    target_registrations_per_epoch: int = 4
    miner_share_bps: int = 5_000  # of the job's pool: miners by incentive, the rest validators by dividends
    checkpoint_quorum_bps: int = 5_000  # attested stake above this share records a checkpoint
    kappa_u16: int = 32767
    bonds_penalty_u16: int = U16_MAX
    bond_alpha_ppm: int = 100_000
    yuma3: bool = True
    liquid_alpha: bool = True
    alpha_low_u16: int = 45875
    alpha_high_u16: int = 58982
    alpha_sigmoid_steepness: int = 1000
    require_work_reveal: bool = True  # weight on a uid without a revealed artifact this epoch counts as 0
    work_spec: str = "{}"  # canonical JSON of the off-chain work: model config, corpus, hyperparameters

    def serialize(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @property
    def definition_hash(self) -> bytes:
        return sha256(self.serialize())


def compute_jobs_hash(jobs: tuple[JobParams, ...]) -> bytes:
    return tagged_hash("hashgrad/jobs", b"".join(job.definition_hash for job in jobs))


def compute_epoch(height: int, tempo: int) -> int:
    """The epoch a block at `height` belongs to (the genesis block belongs to none: -1)."""
    return (height - 1) // tempo if height > 0 else -1


def compute_epoch_offset(height: int, tempo: int) -> int:
    return (height - 1) % tempo


def is_epoch_end(height: int, tempo: int) -> bool:
    return height > 0 and height % tempo == 0


def compute_epoch_start_height(epoch: int, tempo: int) -> int:
    return epoch * tempo + 1


def encode_job_epoch(job_id: int, epoch: int) -> bytes:
    return struct.pack(">HI", job_id, epoch)


def compute_epoch_seed(prev_block_hash: bytes, job_id: int, epoch: int) -> bytes:
    """The seed of an epoch: a tagged hash of the block just before the epoch starts (height
    epoch*tempo), so nobody knows it before that block exists and everybody agrees on it after."""
    return tagged_hash("hashgrad/epoch-seed", prev_block_hash + encode_job_epoch(job_id, epoch))


def compute_epoch_phase(offset: int, job: JobParams) -> str:
    if offset < job.work_commit_end:
        return "commit-work"
    if offset < job.work_reveal_end:
        return "reveal-work"
    if offset < job.weights_commit_end:
        return "commit-weights"
    return "reveal-weights"


# ---------------------------------------------------------------- rounds inside a training job's epoch
# A job's work_spec may set "rounds_per_epoch" (work/rounds.py): the commit-work window is cut into that
# many rounds of equal blocks. Round r of epoch e is open until the chain's tip reaches its close height;
# nodes take announcements of its artifacts (p2p/rounds.py) only before, roles aggregate it only after.
def get_rounds_per_epoch(job: JobParams) -> int:
    """Rounds per epoch from work_spec; 1 (one artifact per epoch) when absent or not a positive integer."""
    try:
        spec = json.loads(job.work_spec)
    except ValueError:
        return 1
    value = spec.get("rounds_per_epoch", 1) if isinstance(spec, dict) else 1
    return value if type(value) is int and value > 0 else 1


def compute_round_blocks(job: JobParams) -> int:
    return max(1, job.work_commit_end // get_rounds_per_epoch(job))


def compute_round_close_height(job: JobParams, epoch: int, round_index: int) -> int:
    """The tip height from which round `round_index` of `epoch` is closed: its artifact set is final."""
    return compute_epoch_start_height(epoch, job.tempo) + (round_index + 1) * compute_round_blocks(job)
