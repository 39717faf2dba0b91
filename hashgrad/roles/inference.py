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
import threading
import time

from hashgrad.chain.coordination_make import make_announce_endpoint, make_reveal_weights
from hashgrad.chain.jobs import JobParams
from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.client import NodeClient, wait_until
from hashgrad.node.replies import Metagraph
from hashgrad.roles.common import (
    EpochClock,
    commit_weights,
    ensure_registered,
    ensure_stake,
    log,
    run_epoch_loop,
    submit_quietly,
)
from hashgrad.roles.keys import RoleKeys

TRAIN_JOB = 0
LOCAL_NETWORKS = ("regtest", "devnet", "devnet-rounds")


def wait_for_checkpoint(client: NodeClient, stop, timeout: float = 600.0):
    """(checkpoint, hash) of the latest checkpoint job 0 recorded, once there is one and this node can
    serve its bytes: a checkpoint recorded a moment ago may still be on its way from the peer that holds
    it (`artifact-not-found`), so that, like an unreachable node, is waited out rather than fatal."""
    # lazy: keeps torch off importing hashgrad.roles.inference
    from hashgrad.serve.checkpoints import fetch_checkpoint, get_chain_checkpoint_hash

    fetched = []

    def is_fetched() -> bool:
        digest = get_chain_checkpoint_hash(client, TRAIN_JOB)
        if digest is None:
            return False
        try:
            fetched.append(fetch_checkpoint(client, digest))
        except RpcError as exc:
            if exc.reason != "artifact-not-found":
                raise
            log.info("checkpoint %s not on this node yet; retrying", digest.hex()[:16])
            return False
        return True

    if not wait_until(is_fetched, timeout, 1.0, stop):
        raise HashgradError("no-checkpoint", f"job 0 recorded no checkpoint this node could fetch in {timeout:.0f} s")
    return fetched[-1]


def compute_validator_allow_list(metagraph: Metagraph) -> frozenset[bytes]:
    """The hotkeys of a job's metagraph that hold a validator permit: who may query a miner that
    serves validators only."""
    return frozenset(neuron.hotkey for neuron in metagraph.uids if neuron.validator_permit)


class InferenceMiner:
    def __init__(
        self,
        client: NodeClient,
        keys: RoleKeys,
        job: JobParams,
        kind: str = "honest",
        host: str = "127.0.0.1",
        port: int = 0,
        poll_s: float = 2.0,
        validators_only: bool = False,
        device="cpu",  # a torch.device or its name (cli: --device): where the served model runs
    ):
        self.client, self.keys, self.job, self.kind = client, keys, job, kind
        self.host, self.port, self.poll_s, self.device = host, port, poll_s, device
        self.validators_only = validators_only  # an allow-list of the job's permitted validators, kept fresh
        self.bound = threading.Event()

    def run(self, stop) -> None:
        uid = ensure_registered(self.client, self.keys, self.job, stop)
        checkpoint, digest = wait_for_checkpoint(self.client, stop)
        thread = threading.Thread(target=self.serve, args=(checkpoint, digest), daemon=True, name="server")
        thread.start()
        if not self.bound.wait(60):
            raise HashgradError("server-start-timeout", "the inference server did not start")
        log.info(
            "inference miner uid %d serving on %s:%d (%s, on %s)", uid, self.host, self.port, self.kind, self.device
        )
        submit_quietly(
            "endpoint announcement",
            self.client.submit_built,
            make_announce_endpoint,
            self.keys.hotkey,
            self.job.job_id,
            self.host,
            self.port,
        )
        while not stop() and thread.is_alive():
            time.sleep(self.poll_s)

    def build_server(self, checkpoint):
        """The signed-requests server of this miner's kind over `checkpoint`, on its device."""
        # Function-local: torch loads only in the process that serves, not for every role.
        from hashgrad.serve.miner import build_miner_backend
        from hashgrad.serve.server import InferenceServer, ServerConfig

        config = ServerConfig(open_access=False, hotkey=self.keys.hotkey.pubkey)
        return InferenceServer(build_miner_backend(self.kind, checkpoint, None, self.device), config)

    def serve(self, checkpoint, digest) -> None:
        # Function-local: torch loads only in the process that serves, not for every role.
        from hashgrad.serve.miner import ChainFollow, serve_miner

        server = self.build_server(checkpoint)

        def on_started(port: int) -> None:
            self.port = port
            self.bound.set()

        follow = ChainFollow(self.client, self.kind, self.poll_s, self.device)

        async def run() -> None:
            allow = asyncio.create_task(self.follow_validators(server)) if self.validators_only else None
            try:
                await serve_miner(server, self.host, self.port, on_started, checkpoint, digest, follow)
            finally:
                if allow is not None:
                    allow.cancel()

        asyncio.run(run())

    async def follow_validators(self, server) -> None:
        """Keep the server's allow-list equal to the job's permitted validators (polled from the chain)."""
        while True:
            try:
                metagraph = await asyncio.to_thread(self.client.get_metagraph, self.job.job_id)
                server.verifier.set_allowed(compute_validator_allow_list(metagraph))
            except HashgradError as exc:
                log.warning("validator list poll failed: %s", exc)
            await asyncio.sleep(self.poll_s)


class InferenceValidator:
    def __init__(
        self,
        client: NodeClient,
        keys: RoleKeys,
        job: JobParams,
        dataset,
        stake: int,
        challenges: int = 3,
        poll_s: float = 0.5,
        checkpoint_wait_s: float = 5.0,
        allow_private: bool | None = None,
        device="cpu",  # where the teacher-forced verification runs (cli: --device)
    ):
        self.client, self.keys, self.job, self.dataset = client, keys, job, dataset
        self.device = device
        self.stake, self.challenges, self.poll_s = stake, challenges, poll_s
        self.checkpoint_wait_s = checkpoint_wait_s
        # loopback and private endpoints are queried only where the whole network is local
        self.allow_private = allow_private if allow_private is not None else client.params.name in LOCAL_NETWORKS
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
            submit_quietly(
                "weights reveal",
                self.client.submit_built,
                make_reveal_weights,
                self.keys.hotkey,
                job.job_id,
                e,
                weights,
                salt,
            )

    def get_round_checkpoint(self):
        """(checkpoint, hash) if this node can serve job 0's latest checkpoint within a few seconds, else
        None: the epoch step must not block (it used to wait up to 600 s), the loop polls again."""
        try:
            return wait_for_checkpoint(self.client, lambda: False, self.checkpoint_wait_s)
        except HashgradError as exc:
            if exc.reason != "no-checkpoint":
                raise
            log.info("no servable checkpoint yet; scoring waits for the next poll")
            return None

    def score_and_commit(self, epoch: int) -> None:
        # lazy: keeps torch off importing hashgrad.roles.inference
        from hashgrad.serve.engine import Engine
        from hashgrad.serve.validator import (
            MinerEndpoint,
            get_heldout_texts,
            is_endpoint_allowed,
            run_validation_round_blocking,
        )

        me = self.keys.hotkey.pubkey
        uids = [u for u in self.client.get_metagraph(self.job.job_id).uids if u.endpoint and u.hotkey != me]
        refused = [u.uid for u in uids if not is_endpoint_allowed(u.endpoint, self.allow_private)]
        if refused:
            log.info("epoch %d: not querying uids %s: their endpoints are not public addresses", epoch, refused)
        miners = [MinerEndpoint(u.uid, f"http://{u.endpoint}", u.hotkey) for u in uids if u.uid not in refused]
        seed = self.client.get_epoch(self.job.job_id, epoch).seed
        if not miners or seed is None:
            return
        fetched = self.get_round_checkpoint()
        if fetched is None:
            self.scored.discard(epoch)  # try again on the next poll, while the window is open
            return
        checkpoint, digest = fetched
        engine = Engine(checkpoint, digest, device=self.device)
        report = run_validation_round_blocking(
            miners, engine, self.keys.hotkey, seed, get_heldout_texts(self.dataset, engine.codec), self.challenges
        )
        verdicts = {uid: [o.verdict for o in outcomes] for uid, outcomes in report.outcomes.items()}
        log.info("epoch %d: inference scores %s verdicts %s", epoch, report.scores, verdicts)
        if not report.weights:
            return
        salt = commit_weights(self.client, self.keys, self.job.job_id, epoch, report.weights)
        if salt is not None:
            self.committed[epoch] = (report.weights, salt)
