"""Rounds inside epochs for the miner and validator processes (a job whose work_spec sets
rounds_per_epoch > 1; work/rounds.py runs the same protocol in one process).

The commit-work window of epoch e is cut into R rounds of equal blocks (chain/jobs.py). In round r a
miner trains H steps from checkpoint r (round 0: the epoch's base, recorded on chain), on data drawn
from the round seed H(epoch seed ‖ r) and its hotkey; its artifact's header carries the global round
e·R + r; it stores the artifact on its node and announces it, signed by its hotkey (p2p/rounds.py).
Once round r is closed (the tip reached its close height, after which nodes take no announcement of
it), everybody computes checkpoint r + 1 with work/rounds.py's own rules: the public checks, then
last epoch's consensus selects, then the clipped aggregation. At the end of the commit window the
miner commits the id of its round manifest (work/round_manifest.py: its round artifacts and their
Merkle root), and reveals it after. Validators loss-test each round as soon as it closes and set
weights once per epoch; the epoch's last round is aggregated into the next epoch's base with this
epoch's consensus, as one-round epochs are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hashgrad.chain.hashes import tagged_hash
from hashgrad.chain.jobs import JobParams, compute_round_close_height, get_rounds_per_epoch
from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.client import NodeClient
from hashgrad.roles.common import log
from hashgrad.work.aggregate import AggregateResult, compute_update_weight
from hashgrad.work.data import Dataset
from hashgrad.work.hashing import compute_commitment
from hashgrad.work.model import Checkpoint
from hashgrad.work.params import WorkParams
from hashgrad.work.round_manifest import RoundManifest, decode_manifest
from hashgrad.work.rounds import compute_round_checkpoint, compute_round_checks, compute_round_seed
from hashgrad.work.scoring import ScoringInputs, Submission
from hashgrad.work.swarm import Commit


@dataclass(frozen=True)
class RoundArtifact:
    uid: int
    hotkey: bytes
    artifact_id: bytes
    data: bytes


def compute_global_round(epoch: int, round_index: int, rounds: int) -> int:
    """The round number artifact headers carry (one-round epochs: the epoch itself)."""
    return epoch * rounds + round_index


def get_open_round(job: JobParams, epoch: int, tip_height: int) -> int:
    """The first round of `epoch` still open at this tip (R when all are closed)."""
    rounds = get_rounds_per_epoch(job)
    return next((r for r in range(rounds) if tip_height < compute_round_close_height(job, epoch, r)), rounds)


def get_consensus(client: NodeClient, job_id: int, epoch: int) -> dict[int, float]:
    """uid -> aggregation weight from the incentive the chain's consensus gave in `epoch` (empty if none)."""
    uids = client.get_metagraph(job_id).uids
    return {u.uid: compute_update_weight(u.incentive_u16) for u in uids if u.epoch == epoch and u.incentive_u16 > 0}


def fetch_round_artifacts(client: NodeClient, job_id: int, epoch: int, round_index: int) -> list[RoundArtifact]:
    """The artifacts announced for one round by registered hotkeys, by uid; one that cannot be fetched is
    left out (as a miner that never sent one)."""
    uids = {u.hotkey: u.uid for u in client.get_metagraph(job_id).uids}
    found = []
    for ann in client.list_round_artifacts(job_id, epoch, round_index):
        if ann.hotkey not in uids:
            continue
        try:
            found.append(
                RoundArtifact(uids[ann.hotkey], ann.hotkey, ann.artifact_id, client.get_artifact(ann.artifact_id))
            )
        except (HashgradError, RpcError) as exc:
            log.warning(
                "round %d of epoch %d: artifact of uid %d not fetched: %s", round_index, epoch, uids[ann.hotkey], exc
            )
    return sorted(found, key=lambda a: a.uid)


def build_round_inputs(
    params: WorkParams,
    global_round: int,
    seed: bytes,
    salt: bytes,
    checkpoint: Checkpoint,
    base_hash: bytes,
    dataset: Dataset,
    artifacts: list[RoundArtifact],
    history: tuple = (),
) -> ScoringInputs:
    """Scoring inputs of one round: the announcements stand for the chain's per-round commitments (their
    signatures bind hotkey and artifact; the manifest on chain binds them to the epoch), in uid order."""
    submissions = tuple(
        Submission(
            a.uid,
            a.hotkey,
            compute_commitment(a.artifact_id, a.hotkey, global_round, params.job_id, base_hash),
            order,
            a.data,
        )
        for order, a in enumerate(artifacts)
    )
    return ScoringInputs(params, global_round, seed, salt, checkpoint, base_hash, dataset, submissions, history)


def compute_next_round_checkpoint(
    public: ScoringInputs, artifacts: list[RoundArtifact], consensus: dict[int, float]
) -> AggregateResult:
    """Checkpoint r + 1 from checkpoint r and round r's artifacts: work/rounds.py's checks and aggregation."""
    updates, flags = compute_round_checks(public)
    commits = [
        Commit(s.uid, s.hotkey, s.commitment, s.commit_order, a.artifact_id)
        for s, a in zip(public.submissions, artifacts)
    ]
    return compute_round_checkpoint(public, consensus, updates, flags, commits)


@dataclass
class RoundChain:
    """The checkpoints of one epoch's rounds as this process computed them, keyed by round."""

    epoch: int = -1
    bases: dict[int, tuple[bytes, Checkpoint]] = field(default_factory=dict)  # round -> (hash, checkpoint)
    consensus: dict[int, float] | None = None  # last epoch's, read once in this epoch


def get_round_base(
    client: NodeClient,
    job: JobParams,
    params: WorkParams,
    dataset: Dataset,
    chain: RoundChain,
    epoch: int,
    round_index: int,
    epoch_base: tuple[bytes, Checkpoint],
    epoch_seed: bytes,
) -> tuple[bytes, Checkpoint]:
    """(hash, checkpoint) round `round_index` of `epoch` starts from, computed from the closed rounds
    before it (cached in `chain`, which is reset for a new epoch)."""
    if chain.epoch != epoch:
        chain.epoch, chain.bases, chain.consensus = epoch, {0: epoch_base}, None
    if round_index in chain.bases:
        return chain.bases[round_index]
    prev_hash, prev = get_round_base(
        client, job, params, dataset, chain, epoch, round_index - 1, epoch_base, epoch_seed
    )
    if chain.consensus is None:
        chain.consensus = get_consensus(client, job.job_id, epoch - 1)
    rounds = get_rounds_per_epoch(job)
    artifacts = fetch_round_artifacts(client, job.job_id, epoch, round_index - 1)
    public = build_round_inputs(
        params,
        compute_global_round(epoch, round_index - 1, rounds),
        compute_round_seed(epoch_seed, round_index - 1),
        bytes(32),
        prev,
        prev_hash,
        dataset,
        artifacts,
    )
    result = compute_next_round_checkpoint(public, artifacts, chain.consensus)
    log.info(
        "epoch %d: round %d aggregated %d of %d artifacts -> checkpoint %s",
        epoch,
        round_index - 1,
        len(result.accepted),
        len(artifacts),
        result.checkpoint_hash.hex()[:16],
    )
    chain.bases[round_index] = (result.checkpoint_hash, result.checkpoint)
    return chain.bases[round_index]


def compute_round_salt(client: NodeClient, job: JobParams, epoch: int, round_index: int, hotkey: bytes) -> bytes:
    """A validator's loss-test salt for a round: the hash of the block that closed it (unknown to the
    miners while they could still announce) and the validator's hotkey."""
    block = client.get_block_hash(compute_round_close_height(job, epoch, round_index))
    return tagged_hash("hashgrad/validator-salt", block + hotkey + round_index.to_bytes(2, "big"))


def get_revealed_manifests(client: NodeClient, job: JobParams, epoch: int) -> dict[int, RoundManifest]:
    """uid -> its round manifest revealed on chain for `epoch` (checked: decodes, names its hotkey,
    job and epoch); a miner whose manifest is missing or malformed is left out."""
    info = client.get_epoch(job.job_id, epoch)
    hotkeys = {u.uid: u.hotkey for u in client.get_metagraph(job.job_id).uids}
    manifests = {}
    for reveal in info.work_reveals:
        try:
            manifest = decode_manifest(client.get_artifact(reveal.artifact_id), get_rounds_per_epoch(job))
        except (HashgradError, RpcError) as exc:
            log.warning("epoch %d: uid %d revealed no valid round manifest: %s", epoch, reveal.uid, exc)
            continue
        if (manifest.job_id, manifest.epoch, manifest.hotkey) == (job.job_id, epoch, hotkeys.get(reveal.uid)):
            manifests[reveal.uid] = manifest
    return manifests
