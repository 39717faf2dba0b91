"""What the person running the devnet sees: a live table on a terminal (rich), plain log lines
otherwise (CI, pipes)."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from hashgrad.devnet.monitor import DevnetMonitor, EpochResult, RoundResult


class PlainView:
    def __init__(self):
        self.last_height = -1

    def message(self, text: str) -> None:
        print(f"[devnet {time.strftime('%H:%M:%S')}] {text}", flush=True)

    def update(self, monitor: DevnetMonitor) -> None:
        if monitor.height // 10 != self.last_height // 10:
            self.message(f"height {monitor.height}")
        self.last_height = monitor.height

    def round_done(self, result: RoundResult) -> None:
        self.message(
            f"epoch {result.epoch} round {result.round} closed: {result.artifacts} artifacts, "
            f"held-out loss {result.heldout_loss:.4f}, checkpoint {result.checkpoint[:16]}"
        )

    def epoch_done(self, result: EpochResult) -> None:
        rounds = f" after {len(result.rounds)} rounds" if result.rounds else ""
        self.message(
            f"epoch {result.epoch} done at height {result.height}: held-out loss {result.heldout_loss:.4f}{rounds}, "
            f"checkpoint {result.checkpoint[:16]}"
        )
        for job, rows in ((0, result.uids), (1, result.inference or [])):
            for row in rows:
                role = {"miner": "server", "validator": "validator"}[row["role"]] if job == 1 else row["role"]
                tag = f"job {job} {role}" + (f" ({row['adversary']})" if row["adversary"] else "")
                self.message(
                    f"  uid {row['uid']:>2} {tag:<28} incentive {row['incentive']:.3f} dividends "
                    f"{row['dividends']:.3f} earned {row['emission'] / 1e8:10.4f} "
                    f"total {row['total_earned'] / 1e8:10.4f}"
                )

    def close(self) -> None:
        pass


class LiveView(PlainView):
    """A rich Live table redrawn on every poll; messages scroll above it."""

    def __init__(self):
        super().__init__()

        self.console = Console()
        self.live = Live(console=self.console, refresh_per_second=2, transient=False)
        self.live.start()

    def message(self, text: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {text}")

    def update(self, monitor: DevnetMonitor) -> None:

        last = monitor.results[-1] if monitor.results else None
        title = f"hashgrad devnet — height {monitor.height}, epochs done {len(monitor.results)}" + (
            f", held-out loss {last.heldout_loss:.4f}" if last else ""
        )
        if monitor.rounds_per_epoch > 1:
            epoch, open_round = monitor.current_round
            losses = " ".join(f"{r.heldout_loss:.3f}" for r in monitor.rounds.get(epoch, []))
            where = (
                f"round {open_round + 1}/{monitor.rounds_per_epoch}"
                if open_round < monitor.rounds_per_epoch
                else "scoring"
            )
            title += f"\nepoch {epoch}: {where}" + (f", loss per round {losses}" if losses else "")
        table = Table(title=title)
        for column in ("uid", "role", "incentive", "dividends", "last epoch", "total earned"):
            table.add_column(column, justify="right" if column != "role" else "left")
        rows = {row["uid"]: row for row in (last.uids if last else [])}
        for u in monitor.metagraph.uids if monitor.metagraph else ():
            row = rows.get(u.uid, {})
            role = row.get("role", "?") + (f" ({row['adversary']})" if row.get("adversary") else "")
            table.add_row(
                str(u.uid),
                role,
                f"{row.get('incentive', 0):.3f}",
                f"{row.get('dividends', 0):.3f}",
                f"{row.get('emission', 0) / 1e8:.4f}",
                f"{u.total_earned / 1e8:.4f}",
            )
        self.live.update(table)

    def epoch_done(self, result: EpochResult) -> None:
        rounds = " (rounds: " + ", ".join(f"{r.heldout_loss:.4f}" for r in result.rounds) + ")" if result.rounds else ""
        self.message(
            f"epoch {result.epoch} done at height {result.height}: held-out loss {result.heldout_loss:.4f}{rounds}"
        )

    def close(self) -> None:
        self.live.stop()


def make_view():
    return LiveView() if sys.stdout.isatty() else PlainView()
