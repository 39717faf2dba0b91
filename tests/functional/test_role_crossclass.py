"""Mining on other hardware, through the roles: two `hashgrad miner` processes under
ATEN_CPU_CAPABILITY=avx2 (one honest, one `--adversary sandbagger`) and a `hashgrad validator` under
`default` (another hardware class), so the validator cannot replay a miner's bits and audits by
tolerance replay from the miner's reveal, on a regtest node.

Each miner stores its reveal (Δ and milestone states) on the node as chunks under a manifest its
update names; the validator fetches the reveal through the node only for the updates it audits.
The sandbagger runs a quarter of the steps and extrapolates the rest, and its reveal matches every
hash it committed, so only the replay can catch it. The validator audits every update
(`--audit-probability 1`). The test plays the block maker (functional.role_helpers): it mines a block
when the roles' transactions wait and steps the chain through one epoch's windows. Then:

- on chain, both miners' updates declare an AVX2 class; the validator fetched each miner's reveal
  (class AVX2) through the node for a cross-class audit, so its own class differs;
- the honest miner's audit passed and the chain paid it an incentive; the sandbagger's audit failed
  at step 10 (its milestone 5 is genuine, 10 is made up; only a drift-exceeded verdict names a
  diverging step, work.crossclass), the validator gave it no weight and it earned nothing.

Tiny model, regtest preset; ~35-50 s on 2 busy cores (as long as test_role_ddp_miner).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

from functional.framework import TestNode
from functional.role_helpers import COIN, BlockMaker, Role, fund, role_command, stop_all
from functional.test_role_ddp_miner import run_one_epoch
from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.keys import SigningKey
from hashgrad.roles.keys import RoleKeys
from hashgrad.work.compress import compute_layout
from hashgrad.work.data import build_dataset, get_stdlib_dir, load_dataset, save_dataset
from hashgrad.work.job_model import compute_job_params
from hashgrad.work.model import MODEL_PRESETS, Checkpoint, compute_initial_state, decode_checkpoint, encode_checkpoint
from hashgrad.work.params import get_preset
from hashgrad.work.update import decode_update

pytestmark = pytest.mark.functional


def start_roles(node: TestNode, tmp_path: Path) -> tuple[list[Role], dict[str, RoleKeys], Path, Path]:
    """Fund four key pairs, write the tiny checkpoint and a dataset, start validator, two miners, sandbagger."""
    faucet = SigningKey.generate()
    node.generate(12, encode_address(node.params.hrp, faucet.pubkey))
    keys = {
        name: RoleKeys(SigningKey.generate(), SigningKey.generate())
        for name in ("validator", "honest", "honest2", "cheat")
    }
    for name, key in keys.items():
        key.save(tmp_path / f"{name}.json")
    funds = [(keys["validator"].coldkey.pubkey, 30 * COIN)] + [(k.hotkey.pubkey, COIN) for k in keys.values()]
    fund(node, faucet, funds + [(keys[n].coldkey.pubkey, 2 * COIN) for n in ("honest", "honest2", "cheat")])
    manifest = save_dataset(build_dataset(get_stdlib_dir() / "email", 1056), tmp_path / "data" / "manifest.json")
    initial = tmp_path / "initial.safetensors"
    tiny = MODEL_PRESETS["tiny"]
    initial.write_bytes(encode_checkpoint(Checkpoint(tiny, compute_initial_state(tiny, 3))))

    def command(name: str, role: str, *extra: str) -> list[str]:
        return [sys.executable, "-m", "hashgrad"] + role_command(
            node, role, tmp_path / f"{name}.json", manifest, "--device", "cpu", *extra
        )

    validator = command("validator", "validator", "--initial-checkpoint", str(initial), "--audit-probability", "1")
    cheat = command("cheat", "miner", "--adversary", "sandbagger")
    roles = [
        Role("validator", validator, tmp_path / "validator.log", kernel="default"),
        Role("miner", command("honest", "miner"), tmp_path / "honest.log", kernel="avx2"),
        # two honest miners: an honest update's own-vs-random loss test on the tiny model is noisy, and one
        # alone zeroed by it would leave the validator nothing to weigh (the audits are what is tested here)
        Role("miner2", command("honest2", "miner"), tmp_path / "honest2.log", kernel="avx2"),
        Role("sandbagger", cheat, tmp_path / "cheat.log", kernel="avx2"),
    ]
    return roles, keys, manifest, initial


@pytest.mark.timeout(300)
def test_a_validator_of_another_class_pays_honest_work_and_catches_a_sandbagger(tmp_path):
    if not torch.cpu._is_avx2_supported():
        pytest.skip("this CPU has no AVX2 kernel: miners and validator would share a class")
    node = TestNode(0, tmp_path)
    roles: list[Role] = []
    try:
        node.start()
        roles, keys, manifest, initial = start_roles(node, tmp_path)
        maker = BlockMaker(node, roles)
        epoch = run_one_epoch(maker, keys)

        client = maker.client
        uids = {u.hotkey: u for u in client.get_metagraph(0).uids}
        honest, cheat = uids[keys["honest"].hotkey.pubkey], uids[keys["cheat"].hotkey.pubkey]
        honest2 = uids[keys["honest2"].hotkey.pubkey]
        info = client.get_epoch(0, epoch)
        params = compute_job_params(get_preset("demo"), decode_checkpoint(initial.read_bytes()), load_dataset(manifest))
        layout = compute_layout(params.model, params.chunk_size, params.topk)
        declared = {
            r.uid: decode_update(client.get_artifact(r.artifact_id), params, layout)[0].hardware
            for r in info.work_reveals
        }
        assert set(declared) == {honest.uid, honest2.uid, cheat.uid} and all(
            "/AVX2/" in c for c in declared.values()
        ), declared
        log = roles[0].read_log()
        fetched = dict(re.findall(rf"epoch {epoch}: fetched uid (\d+)'s reveal \(class (\S+)\) for a cross-class", log))
        assert fetched == {str(uid): hardware for uid, hardware in declared.items()}, log[-3000:]
        for uid in (honest.uid, honest2.uid):
            assert f"epoch {epoch}: uid {uid} audit passed" in log, log[-3000:]
        failed = rf"epoch {epoch}: uid {cheat.uid} audit failed after \d+ replayed steps \(first diverging step 10\)"
        assert re.search(failed, log), log[-3000:]
        weights = dict(info.weight_reveals[0].weights)
        assert weights.get(honest.uid, 0) + weights.get(honest2.uid, 0) > 0 and weights.get(cheat.uid, 0) == 0, weights
        assert honest.epoch == honest2.epoch == cheat.epoch == epoch and cheat.incentive == 0
        assert honest.incentive + honest2.incentive > 0
    finally:
        stop_all(roles)
        node.cleanup()
