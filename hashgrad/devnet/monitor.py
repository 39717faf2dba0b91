"""Watching the devnet through a node's RPC: which epochs finished, what each uid earned, and the
held-out loss of every checkpoint the chain recorded (recomputed here from the artifact bytes).

With rounds inside epochs (a job whose work_spec sets rounds_per_epoch > 1) it also follows each
round as it closes: it recomputes the round's checkpoint from the signed announcements, with the
same pure rule the miners and validators run (roles/rounds.py), and its held-out loss; the epoch's
last round is the checkpoint the chain records for the next epoch."""

from __future__ import annotations

from dataclasses import dataclass, field

from hashgrad.chain.encoding import parse_hex
from hashgrad.chain.jobs import compute_epoch, compute_round_close_height, get_rounds_per_epoch
from hashgrad.node.client import NodeClient
from hashgrad.node.replies import Metagraph


@dataclass
class EpochResult:
    epoch: int
    height: int
    checkpoint: str
    heldout_loss: float
    uids: list[dict]
    inference: list[dict] | None = None  # job 1's uids in the same epoch, when the devnet runs servers
    rounds: list[RoundResult] | None = None  # with rounds inside epochs: each round's checkpoint and loss

    def to_json(self) -> dict:
        out = {
            "epoch": self.epoch,
            "height": self.height,
            "checkpoint": self.checkpoint,
            "heldout_loss": self.heldout_loss,
            "uids": self.uids,
        }
        if self.inference is not None:
            out["inference"] = {"job": 1, "uids": self.inference}
        if self.rounds is not None:
            out["rounds"] = [r.to_json() for r in self.rounds]
        return out


@dataclass(frozen=True)
class RoundResult:
    epoch: int
    round: int
    checkpoint: str  # after this round
    heldout_loss: float
    artifacts: int  # announced in this round

    def to_json(self) -> dict:
        return {
            "round": self.round,
            "checkpoint": self.checkpoint,
            "heldout_loss": self.heldout_loss,
            "artifacts": self.artifacts,
        }


@dataclass
class DevnetMonitor:
    client: NodeClient
    job_id: int
    participants: list  # devnet.setup.Participant
    dataset: object
    results: list[EpochResult] = field(default_factory=list)
    first_epoch: int | None = None
    initial_loss: float | None = None
    losses: dict[str, float] = field(default_factory=dict)  # checkpoint hex -> held-out loss
    height: int = 0
    metagraph: Metagraph | None = None
    rounds: dict[int, list[RoundResult]] = field(default_factory=dict)  # epoch -> its rounds so far
    round_chain: object = None  # roles.rounds.RoundChain, once rounds are followed
    work_params: object = None  # the job's WorkParams (default: its work_spec's, with the checkpoint's model)

    @property
    def rounds_per_epoch(self) -> int:
        return get_rounds_per_epoch(self.client.params.jobs[self.job_id])

    @property
    def current_round(self) -> tuple[int, int]:
        """(epoch, round) open at the tip (round == rounds_per_epoch once the commit window closed)."""
        job = self.client.params.jobs[self.job_id]
        epoch = compute_epoch(self.height + 1, job.tempo)
        rounds = self.rounds_per_epoch
        open_round = next((r for r in range(rounds) if self.height < compute_round_close_height(job, epoch, r)), rounds)
        return epoch, open_round

    def poll(self) -> EpochResult | None:
        """Refresh; returns the newly finished epoch's result, if one finished."""
        job = self.client.get_job(self.job_id)
        self.height = job.height
        self.metagraph = self.client.get_metagraph(self.job_id)
        if self.first_epoch is None:
            epoch = job.next_block_epoch
            if self.client.get_epoch(self.job_id, epoch).checkpoint is not None:
                self.first_epoch = epoch
            return None
        epoch = self.first_epoch + len(self.results)
        if job.last_epoch_processed < epoch:
            return None
        info = self.client.get_epoch(self.job_id, epoch)
        if not self.results and not info.work_commits:
            self.first_epoch += 1  # nobody worked yet (still registering): the demo starts later
            return None
        produced = self.client.get_epoch(self.job_id, epoch + 1).checkpoint
        if produced is None:
            return None  # the validators have not yet attested the checkpoint this epoch produced
        result = EpochResult(
            epoch,
            info.end_height,
            produced.hex(),
            self.compute_loss(produced.hex()),
            self.compute_uid_rows(epoch, self.metagraph),
        )
        if any(p.job == 1 for p in self.participants):
            result.inference = self.compute_uid_rows(epoch, self.client.get_metagraph(1))
        if self.rounds_per_epoch > 1:
            last = RoundResult(
                epoch,
                self.rounds_per_epoch - 1,
                result.checkpoint,
                result.heldout_loss,
                len(self.client.list_round_artifacts(self.job_id, epoch, self.rounds_per_epoch - 1)),
            )
            result.rounds = self.rounds.pop(epoch, []) + [last]
        self.results.append(result)
        return result

    def poll_rounds(self) -> list[RoundResult]:
        """The rounds of the current epoch that closed since the last call (not its last round: that
        one is the epoch's checkpoint, recorded in `poll`); none for one-round epochs."""
        rounds = self.rounds_per_epoch
        epoch, open_round = self.current_round
        if rounds == 1 or open_round == 0:
            return []
        done = self.rounds.setdefault(epoch, [])
        if len(done) >= min(open_round, rounds - 1):
            return []
        info = self.client.get_epoch(self.job_id, epoch)
        if info.checkpoint is None or info.seed is None:
            return []
        # lazy: keeps torch off importing hashgrad.devnet.monitor
        from hashgrad.devnet.rounds import compute_round_result

        new = []
        while len(done) < min(open_round, rounds - 1):
            done.append(compute_round_result(self, epoch, len(done), info.checkpoint, info.seed))
            new.append(done[-1])
        return new

    def compute_loss(self, checkpoint_hex: str) -> float:
        # lazy: keeps torch off importing hashgrad.devnet.monitor
        from hashgrad.work.evaluate import compute_heldout_loss
        from hashgrad.work.model import decode_checkpoint

        if checkpoint_hex not in self.losses:
            data = self.client.get_artifact(parse_hex(checkpoint_hex, "checkpoint", size=32))
            self.losses[checkpoint_hex] = compute_heldout_loss(decode_checkpoint(data), self.dataset)
        return self.losses[checkpoint_hex]

    def compute_loss_of_bytes(self, data: bytes) -> float:
        # lazy: keeps torch off importing hashgrad.devnet.monitor
        from hashgrad.work.evaluate import compute_heldout_loss
        from hashgrad.work.model import decode_checkpoint

        return compute_heldout_loss(decode_checkpoint(data), self.dataset)

    def compute_uid_rows(self, epoch: int, metagraph: Metagraph) -> list[dict]:
        by_hotkey = {p.hotkey: p for p in self.participants}
        rows = []
        for u in metagraph.uids:
            p = by_hotkey.get(u.hotkey)
            paid = u.epoch == epoch
            rows.append(
                {
                    "uid": u.uid,
                    "hotkey": u.hotkey.hex(),
                    "address": u.address,
                    "role": p.role if p else "miner",
                    "adversary": p.adversary if p else None,
                    "incentive": u.incentive if paid else 0.0,
                    "dividends": u.dividends if paid else 0.0,
                    "emission": u.emission if paid else 0,
                    "total_earned": u.total_earned,
                }
            )
        return rows

    def get_address(self, pubkey: bytes) -> str:
        return self.client.get_address(pubkey)
