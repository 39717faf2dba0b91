"""The inference job's participants (job 1): a miner that serves the model job 0 trains, and a
validator that checks it by recomputation and puts its scores on chain.

Inference miner: registers its hotkey, starts the OpenAI-compatible server (hashgrad.serve) on the
latest checkpoint job 0 recorded, following every new one, and announces its endpoint on chain.
Inference validator: registers and stakes, and each epoch, in the weights-commit window, reads the
miners' endpoints from the metagraph, challenges them with signed requests built from the epoch seed,
verifies every returned token with one teacher-forced pass, and commits, then reveals, the weights.
"""
from __future__ import annotations

import asyncio
import os
import threading
import time
from types import SimpleNamespace

from hashgrad.chain.coordination_make import make_announce_endpoint, make_commit_weights, make_reveal_weights
from hashgrad.chain.jobs import JobParams
from hashgrad.errors import HashgradError, RpcError
from hashgrad.roles.chain_client import ChainClient, RoleKeys, wait_until
from hashgrad.roles.common import EpochClock, run_epoch_loop, ensure_registered, ensure_stake, log, submit_quietly

TRAIN_JOB = 0


def wait_for_checkpoint(client: ChainClient, stop, timeout: float = 600.0):
    """(checkpoint, hash) of the latest checkpoint job 0 recorded, once there is one and this node can
    serve its bytes: a checkpoint recorded a moment ago may still be on its way from the peer that holds
    it (`artifact-not-found`), so that, like an unreachable node, is waited out rather than fatal."""
    from hashgrad.serve.checkpoints import fetch_checkpoint, get_chain_checkpoint_hash

    fetched = []

    def is_fetched() -> bool:
        digest = get_chain_checkpoint_hash(client.rpc, TRAIN_JOB)
        if digest is None:
            return False
        try:
            fetched.append(fetch_checkpoint(client.rpc, digest))
        except RpcError as exc:
            if exc.reason != "artifact-not-found":
                raise
            log.info("checkpoint %s not on this node yet; retrying", digest.hex()[:16])
            return False
        return True

    if not wait_until(is_fetched, timeout, 1.0, stop):
        raise HashgradError("no-checkpoint", f"job 0 recorded no checkpoint this node could fetch in {timeout:.0f} s")
    return fetched[-1]


class InferenceMiner:
    def __init__(self, client: ChainClient, keys: RoleKeys, job: JobParams, kind: str = "honest",
                 host: str = "127.0.0.1", port: int = 0, poll_s: float = 2.0):
        self.client, self.keys, self.job, self.kind = client, keys, job, kind
        self.host, self.port, self.poll_s = host, port, poll_s
        self.bound = threading.Event()

    def run(self, stop) -> None:
        uid = ensure_registered(self.client, self.keys, self.job, stop)
        checkpoint, digest = wait_for_checkpoint(self.client, stop)
        thread = threading.Thread(target=self.serve, args=(checkpoint, digest), daemon=True, name="server")
        thread.start()
        if not self.bound.wait(60):
            raise HashgradError("server-start-timeout", "the inference server did not start")
        log.info("inference miner uid %d serving on %s:%d (%s)", uid, self.host, self.port, self.kind)
        submit_quietly("endpoint announcement", self.client.submit_built, make_announce_endpoint, self.keys.hotkey,
                       self.job.job_id, self.host, self.port)
        while not stop() and thread.is_alive():
            time.sleep(self.poll_s)

    def serve(self, checkpoint, digest) -> None:
        from hashgrad.cli.serve_cmd import build_miner_backend
        from hashgrad.serve.server import InferenceServer, ServerConfig

        config = ServerConfig(open_access=False, hotkey=self.keys.hotkey.pubkey)
        server = InferenceServer(build_miner_backend(self.kind, checkpoint, None), config)
        args = SimpleNamespace(open=False, host=self.host, port=self.port, port_file=None, follow=True,
                               poll_seconds=self.poll_s, adversary=self.kind)

        async def run() -> None:
            from hashgrad.serve.server import serve_forever

            def on_started(port: int) -> None:
                self.port = port
                self.bound.set()

            follow = asyncio.create_task(_follow(args, server, self.client.rpc, checkpoint, digest))
            try:
                await serve_forever(server, self.host, self.port, on_started)
            finally:
                follow.cancel()

        asyncio.run(run())


async def _follow(args, server, rpc, checkpoint, digest) -> None:
    from hashgrad.cli.serve_cmd import follow_chain

    await follow_chain(args, server, rpc, checkpoint, digest)


class InferenceValidator:
    def __init__(self, client: ChainClient, keys: RoleKeys, job: JobParams, dataset, stake: int,
                 challenges: int = 3, poll_s: float = 0.5):
        self.client, self.keys, self.job, self.dataset = client, keys, job, dataset
        self.stake, self.challenges, self.poll_s = stake, challenges, poll_s
        self.committed: dict[int, tuple] = {}
        self.scored: set[int] = set()
        self.revealed: set[int] = set()

    def run(self, stop) -> None:
        uid = ensure_registered(self.client, self.keys, self.job, stop)
        ensure_stake(self.client, self.keys, self.stake, stop)
        log.info("inference validator uid %d with stake %d", uid, self.stake)
        run_epoch_loop(self.client, self.job, self.step, stop, self.poll_s)

    def step(self, clock: EpochClock) -> None:
        job, e = self.job, clock.epoch
        if job.work_reveal_end <= clock.offset < job.weights_commit_end - 1 and e not in self.scored:
            self.scored.add(e)
            self.score_and_commit(e)
        if clock.offset >= job.weights_commit_end and e in self.committed and e not in self.revealed:
            self.revealed.add(e)
            weights, salt = self.committed[e]
            submit_quietly("weights reveal", self.client.submit_built, make_reveal_weights, self.keys.hotkey,
                           job.job_id, e, weights, salt)

    def score_and_commit(self, epoch: int) -> None:
        from hashgrad.serve.engine import Engine
        from hashgrad.serve.validator import MinerEndpoint, get_heldout_texts, run_validation_round_blocking

        me = self.keys.hotkey.pubkey.hex()
        miners = [MinerEndpoint(u["uid"], f"http://{u['endpoint']}", bytes.fromhex(u["hotkey"]))
                  for u in self.client.get_metagraph(self.job.job_id)["uids"] if u.get("endpoint") and u["hotkey"] != me]
        seed_hex = self.client.get_epoch(self.job.job_id, epoch)["seed"]
        if not miners or not seed_hex:
            return
        checkpoint, digest = wait_for_checkpoint(self.client, lambda: False)
        engine = Engine(checkpoint, digest)
        report = run_validation_round_blocking(miners, engine, self.keys.hotkey, bytes.fromhex(seed_hex),
                                               get_heldout_texts(self.dataset, engine.codec), self.challenges)
        verdicts = {uid: [o.verdict for o in outcomes] for uid, outcomes in report.outcomes.items()}
        log.info("epoch %d: inference scores %s verdicts %s", epoch, report.scores, verdicts)
        if not report.weights:
            return
        salt = os.urandom(32)
        if submit_quietly("weights commit", self.client.submit_built, make_commit_weights, self.keys.hotkey,
                          self.job.job_id, epoch, report.weights, salt):
            self.committed[epoch] = (report.weights, salt)
