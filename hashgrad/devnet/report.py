"""The devnet's outputs: summary.json, loss.png (held-out loss per epoch, and per round when epochs
hold several rounds) and rewards.png (cumulative earnings per uid, adversaries marked), and the final
checkpoint with its config."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from hashgrad.chain.encoding import parse_hex
from hashgrad.devnet.monitor import DevnetMonitor


def write_summary(out: Path, monitor: DevnetMonitor, final: dict) -> Path:
    summary = {
        "epochs": [r.to_json() for r in monitor.results],
        "initial_heldout_loss": monitor.initial_loss,
        "final": final,
    }
    path = out / "summary.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path


def write_live(out: Path, monitor: DevnetMonitor) -> Path:
    """The progress the web explorer shows (`hashgrad explorer --live FILE`), replaced atomically."""
    path = out / "live.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"epochs": [r.to_json() for r in monitor.results], "initial_heldout_loss": monitor.initial_loss})
    )
    tmp.replace(path)
    return path


def write_final_checkpoint(out: Path, monitor: DevnetMonitor) -> Path | None:
    if not monitor.results:
        return None
    # lazy: keeps torch off importing hashgrad.devnet.report
    from hashgrad.work.model import decode_checkpoint

    data = monitor.client.get_artifact(parse_hex(monitor.results[-1].checkpoint, "checkpoint", size=32))
    folder = out / "final"
    folder.mkdir(exist_ok=True)
    (folder / "checkpoint.safetensors").write_bytes(data)

    (folder / "config.json").write_text(json.dumps(asdict(decode_checkpoint(data).config), indent=2) + "\n")
    return folder / "checkpoint.safetensors"


def compute_round_points(monitor: DevnetMonitor) -> tuple[list[float], list[float]]:
    """(x, held-out loss) of every round the results hold, x in epochs (round r of R at e - 1 + (r + 1) / R)."""
    xs, ys = [], []
    for result in monitor.results:
        for r in result.rounds or []:
            xs.append(result.epoch - 1 + (r.round + 1) / monitor.rounds_per_epoch)
            ys.append(r.heldout_loss)
    return xs, ys


def write_plots(out: Path, monitor: DevnetMonitor) -> None:
    # lazy: keeps matplotlib off importing hashgrad.devnet.report
    import matplotlib

    matplotlib.use("Agg")
    # lazy: keeps matplotlib off importing hashgrad.devnet.report
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs: list[float] = [r.epoch for r in monitor.results]
    losses = [r.heldout_loss for r in monitor.results]
    fig, ax = plt.subplots(figsize=(6, 4))
    start = (
        ([float(monitor.first_epoch - 1)], [monitor.initial_loss])
        if monitor.initial_loss is not None and monitor.first_epoch is not None
        else ([], [])
    )
    rounds = compute_round_points(monitor)
    if rounds[0]:  # round r of epoch e (of R) at e - 1 + (r + 1) / R: the last round lands on its epoch
        ax.plot(start[0] + rounds[0], start[1] + rounds[1], marker=".", label="after each round")
    ax.plot(
        start[0] + epochs,
        start[1] + losses,
        marker="o",
        linestyle="none" if rounds[0] else "-",
        label="after each epoch (on chain)",
    )
    if rounds[0]:
        ax.legend(fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch (the point before the first is the initial checkpoint)")
    ax.set_ylabel("held-out loss (nats/byte)")
    ax.set_title("hashgrad devnet: held-out loss of the checkpoint on chain")
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for job, rows_of in ((0, lambda r: r.uids), (1, lambda r: r.inference or [])):
        uids = sorted({row["uid"] for r in monitor.results for row in rows_of(r)})
        for uid in uids:
            rows = [next((row for row in rows_of(r) if row["uid"] == uid), None) for r in monitor.results]
            cumulative, total = [], 0
            for row in rows:
                total += row["emission"] if row else 0
                cumulative.append(total / 1e8)
            meta = next(row for row in rows if row)
            role = ("server" if meta["role"] == "miner" else "validator") if job == 1 else meta["role"]
            label = f"job {job} uid {uid} {role}" + (f" ({meta['adversary']}, adversary)" if meta["adversary"] else "")
            style = "--" if meta["adversary"] else ("-" if job == 0 else ":")
            ax.plot(
                [r.epoch for r in monitor.results],
                cumulative,
                style,
                marker="x" if meta["adversary"] else "o",
                label=label,
            )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("cumulative earnings (coins)")
    ax.set_title("who earned what (dashed: adversaries)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "rewards.png", dpi=100)
    plt.close(fig)
