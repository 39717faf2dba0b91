"""Preparing a devnet run: the output folder, the dataset, the initial checkpoint, the keys, and the
funding of every participant through real signed transfers."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import COIN, ChainParams
from hashgrad.chain.tx import make_transfer
from hashgrad.errors import HashgradError
from hashgrad.node.client import NodeClient, wait_until
from hashgrad.roles.keys import RoleKeys

MARKER = ".hashgrad-devnet"
FUND_VALIDATOR = 30 * COIN
FUND_MINER = 2 * COIN
FUND_HOTKEY = 1 * COIN
TRANSFER_FEE = 1_000


@dataclass(frozen=True)
class Participant:
    name: str
    role: str  # "miner" | "validator"
    adversary: str | None
    keys: RoleKeys
    keyfile: Path
    node: int
    job: int = 0  # 0: training, 1: inference

    @property
    def hotkey(self) -> bytes:
        return self.keys.hotkey.pubkey


def prepare_out_dir(out: Path) -> Path:
    """Create `out`, or clear a previous devnet run there; refuse to touch any other non-empty folder."""
    out = out.resolve()
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise HashgradError("out-not-devnet", f"{out} is not empty and holds no previous devnet run")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("a hashgrad devnet run; `hashgrad devnet` clears this folder on its next run\n")
    return out


def build_dataset(out: Path, page_tokens: int) -> Path:
    # lazy: keeps torch off importing hashgrad.devnet.setup
    from hashgrad.work.data import build_stdlib_dataset, save_dataset

    return save_dataset(build_stdlib_dataset(page_tokens), out / "dataset" / "manifest.json")


def build_initial_checkpoint(out: Path, config, seed: int = 0) -> Path:
    # lazy: keeps torch off importing hashgrad.devnet.setup
    from hashgrad.work.model import Checkpoint, compute_initial_state, encode_checkpoint

    path = out / "initial_checkpoint.safetensors"
    path.write_bytes(encode_checkpoint(Checkpoint(config, compute_initial_state(config, seed))))
    return path


def copy_checkpoint(out: Path, source: Path) -> Path:
    """The given genesis checkpoint, checked, as the run's initial checkpoint."""
    # lazy: keeps torch off importing hashgrad.devnet.setup
    from hashgrad.serve.checkpoints import load_checkpoint_file

    load_checkpoint_file(source)
    path = out / "initial_checkpoint.safetensors"
    shutil.copyfile(source, path)
    return path


def copy_manifest(out: Path, source: Path) -> Path:
    """A prepared dataset's manifest alone (no shards) in the run's folder."""
    # lazy: keeps torch off importing hashgrad.devnet.setup
    from hashgrad.work.data import load_dataset

    load_dataset(source)  # checked before anything starts
    path = out / "dataset" / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)
    return path


def make_participants(
    out: Path,
    miners: int,
    adversaries: list[str],
    validators: int,
    nodes: int,
    servers: int = 0,
    server_adversaries: tuple[str, ...] = (),
) -> list[Participant]:
    """Training validators and miners (job 0), then, if any servers are asked for, one inference
    validator and the inference miners (job 1); each with fresh keys saved under out/keys."""
    keydir = out / "keys"
    keydir.mkdir(exist_ok=True)
    roles = [("validator", None, 0)] * validators + [("miner", None, 0)] * miners
    roles += [("miner", k, 0) for k in adversaries]
    if servers or server_adversaries:
        roles += (
            [("validator", None, 1)] + [("miner", None, 1)] * servers + [("miner", k, 1) for k in server_adversaries]
        )
    participants = []
    for i, (role, adversary, job) in enumerate(roles):
        base = {
            (0, "miner"): "miner",
            (0, "validator"): "validator",
            (1, "miner"): "server",
            (1, "validator"): "inference-validator",
        }[(job, role)]
        name = f"{base}{i}" if adversary is None else f"{adversary}{i}"
        keys = RoleKeys(SigningKey.generate(), SigningKey.generate())
        keyfile = keydir / f"{name}.json"
        keys.save(keyfile)
        participants.append(Participant(name, role, adversary, keys, keyfile, i % nodes, job))
    return participants


def fund_participants(client: NodeClient, faucet: SigningKey, participants: list[Participant], stop) -> None:
    """Send every coldkey its funds and every hotkey its fee money; wait until all are mined."""
    params: ChainParams = client.params
    nonce = client.get_next_nonce(faucet.pubkey)
    for p in participants:
        amount = FUND_VALIDATOR if p.role == "validator" else FUND_MINER
        for recipient, value in ((p.keys.coldkey.pubkey, amount), (p.hotkey, FUND_HOTKEY)):
            client.submit(make_transfer(faucet, params.magic, nonce, recipient, value, TRANSFER_FEE))
            nonce += 1
    last = participants[-1].hotkey
    if not wait_until(lambda: client.get_account_of(last).balance >= FUND_HOTKEY, 120, 0.5, stop):
        raise HashgradError("funding-timeout", "funding transfers were not mined in 120 s")
