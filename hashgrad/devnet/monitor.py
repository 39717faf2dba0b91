"""Watching the devnet through a node's RPC: which epochs finished, what each uid earned, and the
held-out loss of every checkpoint the chain recorded (recomputed here from the artifact bytes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hashgrad.chain.encoding import parse_hex
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
        return out


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
        self.results.append(result)
        return result

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
