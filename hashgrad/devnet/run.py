"""`hashgrad devnet`: a whole hashgrad network on one machine, doing real work end to end.

1. prepare: dataset (the stdlib's own sources), the initial checkpoint, keys for everyone
2. start the nodes (node 0 makes a block every few seconds) and wait for their RPC
3. mine the faucet's first coins and fund every participant with signed transfers
4. start validators and miners as separate processes; they register, stake and work
   through the chain alone (commit → reveal → score → weights → consensus → emission → checkpoint)
5. watch epochs finish, recompute each checkpoint's held-out loss, show who earned what
6. stop every process, write summary.json, loss.png, rewards.png and the final checkpoint
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import get_network
from hashgrad.devnet.monitor import DevnetMonitor
from hashgrad.devnet.processes import ProcessGroup
from hashgrad.devnet.report import write_final_checkpoint, write_live, write_plots, write_summary
from hashgrad.devnet.setup import (
    Participant,
    build_dataset,
    build_initial_checkpoint,
    copy_checkpoint,
    copy_manifest,
    fund_participants,
    make_participants,
    prepare_out_dir,
)
from hashgrad.errors import HashgradError, RpcError
from hashgrad.node.client import NodeClient, connect_node, wait_until
from hashgrad.roles.shards import publish_shards
from hashgrad.work.data import load_dataset
from hashgrad.work.params import get_preset

STALL_TIMEOUT_S = 240  # no epoch finishing for this long means something is broken


@dataclass(frozen=True)
class DevnetConfig:
    out: Path
    miners: int = 2
    validators: int = 1
    adversaries: tuple[str, ...] = ("noise",)
    servers: int = 0
    server_adversaries: tuple[str, ...] = ()
    epochs: int = 4
    nodes: int = 2
    port_base: int = 39500
    block_interval: float = 2.0
    web: bool = True
    network: str = "devnet"
    checkpoint: Path | None = None  # the job's genesis checkpoint (`model import`); default: a fresh demo GPT
    dataset: Path | None = None  # a prepared dataset's manifest (`data prepare`); default: the stdlib's sources
    miner_kernel: str | None = None  # ATEN_CPU_CAPABILITY of the miners (None: this machine's own)
    validator_kernel: str | None = None  # ... of the validators: another class is audited with a tolerance
    audit_probability: float | None = None  # the training validators' audit probability (None: the job's)


class Devnet:
    def __init__(self, config: DevnetConfig, view):
        self.config = config
        self.view = view
        self.params = get_network(config.network)
        self.out = prepare_out_dir(config.out)
        self.processes = ProcessGroup()
        self.faucet = SigningKey.generate()
        self.participants: list[Participant] = []

    def node_dir(self, i: int) -> Path:
        return self.out / "nodes" / f"node{i}"

    def rpc_port(self, i: int) -> int:
        return self.config.port_base + 100 + i

    def client(self, i: int = 0) -> NodeClient:
        return connect_node(self.params.name, self.node_dir(i), self.rpc_port(i))

    # ------------------------------------------------------------ steps
    def start_nodes(self) -> None:
        payout = encode_address(self.params.hrp, self.faucet.pubkey)
        for i in range(self.config.nodes):
            args = [
                "node",
                "--network",
                self.params.name,
                "--datadir",
                str(self.node_dir(i)),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.config.port_base + i),
                "--rpcport",
                str(self.rpc_port(i)),
                "--rest",
            ]
            if i == 0:
                args += ["--mine-interval", str(self.config.block_interval), "--payout", payout]
            else:
                args += ["--connect", f"127.0.0.1:{self.config.port_base}"]
            self.node_dir(i).mkdir(parents=True, exist_ok=True)
            self.processes.start(f"node{i}", args, self.out / "logs" / f"node{i}.log")
        for i in range(self.config.nodes):
            if not wait_until(lambda i=i: self.client(i).get_block_count() >= 0, 60, 0.25, self.check_children):
                raise HashgradError("node-start-timeout", f"node{i} RPC did not come up (see logs/node{i}.log)")
        self.view.message(f"{self.config.nodes} nodes up; node0 makes a block every {self.config.block_interval} s")

    def start_explorer(self) -> None:
        port = self.config.port_base + 80
        args = [
            "explorer",
            "--network",
            self.params.name,
            "--datadir",
            str(self.node_dir(0)),
            "--rpcport",
            str(self.rpc_port(0)),
            "--port",
            str(port),
            "--live",
            str(self.out / "live.json"),
        ]
        self.processes.start("explorer", args, self.out / "logs" / "explorer.log")
        self.view.message(f"explorer: http://127.0.0.1:{port}/")

    def fund(self) -> None:
        client = self.client(0)
        client.call("generatetoaddress", 12, client.get_address(self.faucet.pubkey))
        fund_participants(client, self.faucet, self.participants, self.check_children)
        self.view.message(f"funded {len(self.participants)} participants with signed transfers")

    def start_roles(self, manifest: Path, initial: Path) -> None:
        for p in self.participants:
            args = [
                p.role,
                "--network",
                self.params.name,
                "--job",
                str(p.job),
                "--datadir",
                str(self.node_dir(p.node)),
                "--rpcport",
                str(self.rpc_port(p.node)),
                "--keyfile",
                str(p.keyfile),
                "--dataset",
                str(manifest),
            ]
            if p.role == "validator" and p.job == 0:
                args += ["--initial-checkpoint", str(initial)]
                if self.config.audit_probability is not None:
                    args += ["--audit-probability", str(self.config.audit_probability)]
            elif p.adversary:
                args += ["--adversary", p.adversary]
            kernel = self.config.validator_kernel if p.role == "validator" else self.config.miner_kernel
            env = {"ATEN_CPU_CAPABILITY": kernel} if kernel else None
            self.processes.start(p.name, args, self.out / "logs" / f"{p.name}.log", env)
        self.view.message("started " + ", ".join(p.name for p in self.participants))

    def fast_forward(self) -> None:
        """Once everyone is registered and staked, mine up to the next epoch start at once, so the
        demo does not wait out the epoch the registrations landed in."""
        client = self.client(0)

        def is_ready() -> bool:
            for job in {p.job for p in self.participants}:
                uids = client.get_metagraph(job).uids
                staked = {u.hotkey for u in uids if u.stake > 0}
                mine = [p for p in self.participants if p.job == job]
                if not {p.hotkey for p in mine} <= {u.hotkey for u in uids}:
                    return False
                if not {p.hotkey for p in mine if p.role == "validator"} <= staked:
                    return False
            return True

        if not wait_until(is_ready, 120, 0.5, self.check_children):
            raise HashgradError("registration-timeout", f"participants did not register in 120 s (see {self.out}/logs)")
        job = client.get_job(0)
        if job.next_block_offset > 1:
            client.call("generatetoaddress", job.tempo - job.next_block_offset, client.get_address(self.faucet.pubkey))
        self.view.message("everyone registered and staked; training starts with the next epoch")

    def check_children(self) -> bool:
        dead = self.processes.get_dead()
        if dead:
            names = "\n".join(
                f"{c.name} (exit {c.process.returncode}, see {c.log_path}); its log ends:\n{c.read_log_tail()}"
                for c in dead
            )
            raise HashgradError("process-died", names)
        return False

    def watch(self, monitor: DevnetMonitor) -> None:
        last_progress = time.monotonic()
        while len(monitor.results) < self.config.epochs:
            self.check_children()
            try:
                result = monitor.poll()
            except RpcError as exc:
                self.view.message(f"node call failed: {exc}")
                result = None
            self.view.update(monitor)
            for closed in self.poll_rounds(monitor):
                self.view.round_done(closed)
            if result is not None:
                self.view.epoch_done(result)
                write_live(self.out, monitor)
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > STALL_TIMEOUT_S:
                raise HashgradError("devnet-stalled", f"no epoch finished in {STALL_TIMEOUT_S} s (see {self.out}/logs)")
            time.sleep(1.0)

    def poll_rounds(self, monitor: DevnetMonitor) -> list:
        try:
            return monitor.poll_rounds()
        except (RpcError, HashgradError) as exc:  # a round that cannot be recomputed is not shown
            self.view.message(f"round not followed: {exc}")
            return []

    # ------------------------------------------------------------ the whole run
    def run(self) -> dict:

        work = get_preset("demo")
        if self.config.dataset is None:
            manifest = local_manifest = build_dataset(self.out, work.page_tokens)
        else:  # roles get the manifest alone: they fetch the shards by hash through their nodes
            local_manifest, manifest = self.config.dataset, copy_manifest(self.out, self.config.dataset)
        initial = (
            build_initial_checkpoint(self.out, work.model)
            if self.config.checkpoint is None
            else copy_checkpoint(self.out, self.config.checkpoint)
        )
        self.participants = make_participants(
            self.out,
            self.config.miners,
            list(self.config.adversaries),
            self.config.validators,
            self.config.nodes,
            self.config.servers,
            self.config.server_adversaries,
        )
        dataset = load_dataset(local_manifest)
        monitor = None
        try:
            self.start_nodes()
            if self.config.dataset is not None:
                count = publish_shards(self.client(0), local_manifest)
                self.view.message(f"published {count} dataset shards to node 0; the other nodes fetch them by hash")
            monitor = DevnetMonitor(self.client(0), 0, self.participants, dataset)
            if self.config.web:
                self.start_explorer()
            self.fund()
            self.start_roles(manifest, initial)
            self.fast_forward()
            monitor.initial_loss = monitor.compute_loss_of_bytes(initial.read_bytes())
            write_live(self.out, monitor)
            self.watch(monitor)
            final = self.finish(monitor)
        finally:
            self.processes.stop_all()
            self.view.close()
            if monitor is not None and monitor.results:
                write_plots(self.out, monitor)
        return final

    def finish(self, monitor: DevnetMonitor) -> dict:
        client = monitor.client
        checkpoint_file = write_final_checkpoint(self.out, monitor)
        last = monitor.results[-1] if monitor.results else None
        final = {
            "height": client.get_block_count(),
            "checkpoint": last.checkpoint if last else None,
            "heldout_loss": last.heldout_loss if last else None,
            "supply": client.call("getsupply"),
            "checkpoint_file": str(checkpoint_file) if checkpoint_file else None,
            "balances": {p.name: client.get_account_of(p.hotkey).balance for p in self.participants},
        }
        write_summary(self.out, monitor, final)
        return final
