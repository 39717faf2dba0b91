"""The data-parallel miner role against a real node: `torchrun --nproc-per-node 2 -m hashgrad miner`
(gloo, CPU; run as `python -m torch.distributed.run`, torchrun's own entry point) works one epoch of
job 0 on a regtest node beside a one-process `hashgrad miner`, and a `hashgrad validator` process
scores both.

The test plays the block maker: it mines a block when the roles' transactions wait and steps the
chain through the epoch's windows (commit, reveal, weights commit, weights reveal), so the roles'
own pace decides how long each window stays open. Then:

- on chain, each miner committed and revealed one update; the 2-process one declares its class with
  2 processes, the other with 1;
- the validator revealed a weight above zero for both updates, and the chain's consensus paid both
  miners an incentive in that epoch;
- in the miner's log, rank 0 alone registered, committed and revealed, and rank 1 trained the epoch
  (on the checkpoint rank 0 sent it).

The job runs the regtest preset (demo hyperparameters) on a 35K-parameter checkpoint and a small
dataset, so one epoch costs seconds of training; the whole test, ~45 s on an idle 2-core machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from functional.framework import TestNode
from functional.role_helpers import COIN, BlockMaker, Role, fund, role_command, stop_all
from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.keys import SigningKey
from hashgrad.roles.evidence import compute_commit_offset
from hashgrad.roles.keys import RoleKeys
from hashgrad.work.compress import compute_layout
from hashgrad.work.data import build_dataset, get_stdlib_dir, load_dataset, save_dataset
from hashgrad.work.hardware import CPU_FP32
from hashgrad.work.job_model import compute_job_params
from hashgrad.work.model import MODEL_PRESETS, Checkpoint, compute_initial_state, decode_checkpoint, encode_checkpoint
from hashgrad.work.params import get_preset
from hashgrad.work.update import decode_update


def start_roles(node: TestNode, tmp_path: Path) -> tuple[list[Role], dict[str, RoleKeys], Path, Path]:
    """Fund three fresh key pairs, write the job's checkpoint and dataset, start the three roles."""
    faucet = SigningKey.generate()
    node.generate(12, encode_address(node.params.hrp, faucet.pubkey))
    keys = {name: RoleKeys(SigningKey.generate(), SigningKey.generate()) for name in ("validator", "ddp", "single")}
    for name, key in keys.items():
        key.save(tmp_path / f"{name}.json")
    funds = [(keys["validator"].coldkey.pubkey, 30 * COIN)] + [(k.hotkey.pubkey, COIN) for k in keys.values()]
    fund(node, faucet, funds + [(keys[n].coldkey.pubkey, 2 * COIN) for n in ("ddp", "single")])
    manifest = save_dataset(build_dataset(get_stdlib_dir() / "email", 1056), tmp_path / "data" / "manifest.json")
    initial = tmp_path / "initial.safetensors"
    tiny = MODEL_PRESETS["tiny"]
    initial.write_bytes(encode_checkpoint(Checkpoint(tiny, compute_initial_state(tiny, 3))))

    def command(name: str, role: str, *extra: str) -> list[str]:
        return role_command(node, role, tmp_path / f"{name}.json", manifest, "--device", "cpu", *extra)

    hashgrad = [sys.executable, "-m", "hashgrad"]
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "hashgrad",
    ]
    validator = hashgrad + command("validator", "validator", "--initial-checkpoint", str(initial))
    roles = [
        Role("validator", validator, tmp_path / "validator.log"),
        Role("ddp miner", torchrun + command("ddp", "miner"), tmp_path / "ddp.log"),
        Role("miner", hashgrad + command("single", "miner"), tmp_path / "single.log"),
    ]
    return roles, keys, manifest, initial


def run_one_epoch(maker: BlockMaker, keys: dict[str, RoleKeys]) -> int:
    """Mine through registration, then one whole epoch of job 0, waiting at each window for the roles."""
    client, node = maker.client, maker.node

    def is_ready() -> bool:
        uids = {u.hotkey: u for u in client.get_metagraph(0).uids}
        validator = uids.get(keys["validator"].hotkey.pubkey)
        return {k.hotkey.pubkey for k in keys.values()} <= set(uids) and validator.stake >= 10 * COIN

    maker.mine_until(is_ready, "registrations and the validator's stake")
    maker.mine_until(lambda: not node.getrawmempool(), "an empty mempool")  # the first attestation, say
    maker.advance_to_offset(0)
    job = client.get_job(0)
    epoch = job.next_block_epoch

    def get_epoch():
        return client.get_epoch(0, epoch)

    maker.mine_until(lambda: get_epoch().checkpoint is not None, "the epoch's base checkpoint")
    miners = len(keys) - 1  # every key but the validator's
    maker.mine_until(lambda: len(get_epoch().work_commits) == miners, "every miner's commit")
    assert client.get_job(0).next_block_offset <= job.work_commit_end
    maker.advance_to_offset(job.work_commit_end)
    maker.mine_until(lambda: len(get_epoch().work_reveals) == miners, "every miner's reveal")
    maker.advance_to_offset(compute_commit_offset(job))  # validators commit from the middle of the window on
    maker.mine_until(lambda: get_epoch().weight_commits, "the validator's weights commit")
    maker.advance_to_offset(job.weights_commit_end)
    maker.mine_until(lambda: get_epoch().weight_reveals, "the validator's weights reveal")
    maker.advance_to_offset(0)  # the epoch's last block runs its consensus
    return epoch


def check_rank_logs(log: str, epoch: int) -> None:
    """Rank 0 alone registered, committed and revealed; rank 1 trained the epoch too."""
    lines = log.splitlines()
    rank0 = [line for line in lines if "rank 0 INFO" in line]
    rank1 = [line for line in lines if "rank 1 INFO" in line]
    for text in ("registration sent", f"epoch {epoch}: committed", f"epoch {epoch}: revealed"):
        assert sum(text in line for line in rank0) == 1 and not any(text in line for line in rank1), text
    assert any(f"epoch {epoch}: rank 1 of 2 trained" in line for line in rank1), "\n".join(lines[-20:])


@pytest.mark.timeout(300)
def test_torchrun_miner_earns_like_a_one_process_miner(tmp_path):
    node = TestNode(0, tmp_path)
    roles: list[Role] = []
    try:
        node.start()
        roles, keys, manifest, initial = start_roles(node, tmp_path)
        maker = BlockMaker(node, roles)
        epoch = run_one_epoch(maker, keys)

        client = maker.client
        uids = {u.hotkey: u for u in client.get_metagraph(0).uids}
        ddp, single = uids[keys["ddp"].hotkey.pubkey], uids[keys["single"].hotkey.pubkey]
        info = client.get_epoch(0, epoch)
        assert sorted(c.uid for c in info.work_commits) == sorted((ddp.uid, single.uid))
        params = compute_job_params(get_preset("demo"), decode_checkpoint(initial.read_bytes()), load_dataset(manifest))
        layout = compute_layout(params.model, params.chunk_size, params.topk)
        declared = {
            r.uid: decode_update(client.get_artifact(r.artifact_id), params, layout)[0].hardware
            for r in info.work_reveals
        }
        one_process = CPU_FP32.get_class().to_text()
        assert declared == {single.uid: one_process, ddp.uid: one_process[:-1] + "2"}, declared
        # the validator weighed the 2-process update as it weighed the one-process one, and the chain paid both
        weights = dict(info.weight_reveals[0].weights)
        assert weights.get(ddp.uid, 0) > 0 and weights.get(single.uid, 0) > 0, weights
        assert ddp.epoch == single.epoch == epoch and ddp.incentive > 0 and single.incentive > 0
        check_rank_logs(roles[1].read_log(), epoch)
    finally:
        stop_all(roles)
        node.cleanup()
