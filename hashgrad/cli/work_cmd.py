"""`hashgrad work ...`: datasets, checkpoints, centralized training and whole in-process swarms.

    hashgrad work dataset build [DIR] --out data/manifest.json   (DIR defaults to the Python stdlib)
    hashgrad work dataset check data/manifest.json
    hashgrad work init --preset demo --out ckpt.safetensors
    hashgrad work eval ckpt.safetensors --dataset data/manifest.json
    hashgrad work train-centralized --preset small --steps 200 --out ckpt.safetensors
    hashgrad work simulate --miners 6 --adversaries lazy,noise,copycat --epochs 5

Updates declare their hardware class (work.hardware); validators replay bit-exactly within a CPU
class and with a tolerance across classes, so no CPU kernel is pinned. `simulate` prints one line
per epoch and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from hashgrad.errors import WorkError
from hashgrad.work.hashing import compute_tagged_hash


def register(subparsers) -> None:
    parser = subparsers.add_parser("work", help="useful work: datasets, checkpoints, training, swarm simulation")
    sub = parser.add_subparsers(dest="work_command", metavar="ACTION", required=True)

    dataset = sub.add_parser("dataset", help="build or check a dataset of token pages")
    dsub = dataset.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    build = dsub.add_parser("build", help="cut a folder of text files into pages; writes manifest + pages.bin")
    build.add_argument("dir", nargs="?", type=Path, help="folder of text files (default: the Python stdlib)")
    build.add_argument("--out", type=Path, required=True, help="manifest path; pages.bin is written beside it")
    build.add_argument("--preset", default="demo", help="work preset whose page size to use")
    build.add_argument(
        "--suffix", action="append", default=None, help="file suffix to include (repeatable; default .py)"
    )
    build.set_defaults(func=run_dataset_build)
    check = dsub.add_parser("check", help="verify a manifest and every page hash")
    check.add_argument("manifest", type=Path)
    check.set_defaults(func=run_dataset_check)

    init = sub.add_parser("init", help="write an initial checkpoint")
    init.add_argument("--preset", default="demo")
    init.add_argument("--seed", type=int, default=0)
    init.add_argument("--out", type=Path, required=True)
    init.set_defaults(func=run_init)

    evaluate = sub.add_parser("eval", help="held-out loss of a checkpoint")
    evaluate.add_argument("checkpoint", type=Path)
    add_dataset_arg(evaluate)
    evaluate.set_defaults(func=run_eval)

    central = sub.add_parser("train-centralized", help="train one model on the whole dataset (the baseline)")
    central.add_argument("--preset", default="small")
    central.add_argument("--steps", type=int, default=200)
    central.add_argument("--batch-size", type=int, default=None, help="default: the preset's batch size")
    central.add_argument("--checkpoint", type=Path, help="start from this checkpoint (default: a fresh init)")
    central.add_argument("--out", type=Path, help="write the trained checkpoint here")
    add_dataset_arg(central)
    central.set_defaults(func=run_train_centralized)

    simulate = sub.add_parser("simulate", help="run a whole swarm in-process through the library code")
    simulate.add_argument("--preset", default="small")
    simulate.add_argument("--miners", type=int, default=6, help="honest miners")
    simulate.add_argument(
        "--adversaries", default="", help="comma-separated kinds: lazy,noise,copycat,replay,poisoner,sandbagger"
    )
    simulate.add_argument("--epochs", type=int, default=5)
    simulate.add_argument("--validators", type=int, default=1)
    simulate.add_argument("--audit-probability", type=float, default=None)
    add_dataset_arg(simulate)
    simulate.set_defaults(func=run_simulate)


def add_dataset_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, help="manifest.json (default: build from the Python stdlib in memory)")


def get_params(preset: str, **overrides):
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.miner import set_determinism_pins
    from hashgrad.work.params import get_preset

    set_determinism_pins()
    return get_preset(preset, **overrides)


def get_dataset(path: Path | None, page_tokens: int):
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.data import build_stdlib_dataset, load_dataset

    if path is None:
        return build_stdlib_dataset(page_tokens)
    dataset = load_dataset(path)
    if dataset.page_tokens != page_tokens:
        raise WorkError(
            "wrong-page-size", f"dataset pages hold {dataset.page_tokens} tokens, preset wants {page_tokens}"
        )
    return dataset


def run_dataset_build(args) -> int:
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.data import build_dataset, get_stdlib_dir, save_dataset
    from hashgrad.work.params import get_preset

    params = get_preset(args.preset)
    root = args.dir or get_stdlib_dir()
    suffixes = tuple(args.suffix) if args.suffix else (".py",)
    dataset = build_dataset(root, params.page_tokens, suffixes, source="python-stdlib" if args.dir is None else "")
    save_dataset(dataset, args.out)
    print(json.dumps(describe_dataset(dataset)))
    return 0


def describe_dataset(dataset) -> dict:
    return {
        "manifest_hash": dataset.manifest_hash.hex(),
        "pages": dataset.manifest["num_pages"],
        "page_tokens": dataset.page_tokens,
        "heldout_pages": len(dataset.heldout_pages),
        "source": dataset.manifest["source"],
    }


def run_dataset_check(args) -> int:
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.data import load_dataset

    dataset = load_dataset(args.manifest)
    if hasattr(dataset.pages, "load_all"):  # token shards are read lazily: check every one now
        dataset.pages.load_all()
    print(json.dumps(describe_dataset(dataset)))
    return 0


def run_init(args) -> int:
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.model import Checkpoint, checkpoint_hash, compute_initial_state, compute_num_params

    params = get_params(args.preset)
    data = Checkpoint(params.model, compute_initial_state(params.model, args.seed)).to_bytes()
    args.out.write_bytes(data)
    print(
        json.dumps(
            {
                "checkpoint_hash": checkpoint_hash(data).hex(),
                "params": compute_num_params(params.model),
                "bytes": len(data),
            }
        )
    )
    return 0


def read_checkpoint(path: Path):
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.model import MAX_CHECKPOINT_BYTES, decode_checkpoint

    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise WorkError("too-large", f"{path} exceeds {MAX_CHECKPOINT_BYTES} bytes")
    return decode_checkpoint(path.read_bytes())


def run_eval(args) -> int:
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.evaluate import compute_heldout_loss
    from hashgrad.work.params import WORK_PRESETS

    checkpoint = read_checkpoint(args.checkpoint)
    page_tokens = next((p.page_tokens for p in WORK_PRESETS.values() if p.model == checkpoint.config), 4096)
    dataset = get_dataset(args.dataset, page_tokens)
    print(json.dumps({"heldout_loss": compute_heldout_loss(checkpoint, dataset)}))
    return 0


def run_train_centralized(args) -> int:
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.centralized import compute_centralized_training
    from hashgrad.work.evaluate import compute_heldout_loss

    # lazy: keeps torch off this command's start-up
    from hashgrad.work.model import Checkpoint, checkpoint_hash, compute_initial_state

    params = get_params(args.preset)
    dataset = get_dataset(args.dataset, params.page_tokens)
    start = (
        read_checkpoint(args.checkpoint)
        if args.checkpoint
        else Checkpoint(params.model, compute_initial_state(params.model, 0))
    )
    batch = args.batch_size or params.batch_size
    every = max(1, args.steps // 10)

    def on_step(step: int, loss: float) -> None:
        if step % every == 0 or step == args.steps - 1:
            print(f"step {step:5d}  train loss {loss:.4f}", flush=True)

    started = time.monotonic()
    result = compute_centralized_training(
        start, dataset, params, args.steps, batch, compute_tagged_hash("hashgrad/cli/central", b""), on_step
    )
    seconds = time.monotonic() - started
    data = result.to_bytes()
    if args.out:
        args.out.write_bytes(data)
    tokens = args.steps * batch * params.model.block_size
    print(
        json.dumps(
            {
                "heldout_loss": compute_heldout_loss(result, dataset),
                "steps": args.steps,
                "tokens": tokens,
                "tokens_per_s": tokens / seconds,
                "checkpoint_hash": checkpoint_hash(data).hex(),
            }
        )
    )
    return 0


def run_simulate(args) -> int:
    # lazy: keeps torch off this command's start-up
    from hashgrad.work.adversaries import ADVERSARY_KINDS
    from hashgrad.work.evaluate import compute_heldout_loss
    from hashgrad.work.model import Checkpoint, compute_initial_state
    from hashgrad.work.swarm import build_swarm, run_epoch

    adversaries = [k for k in args.adversaries.split(",") if k]
    unknown = [k for k in adversaries if k not in ADVERSARY_KINDS]
    if unknown or args.miners < 0 or args.epochs <= 0 or args.validators <= 0:
        raise WorkError("bad-arguments", f"unknown kinds {unknown}; known: {', '.join(ADVERSARY_KINDS)}")
    overrides = {} if args.audit_probability is None else {"audit_probability": args.audit_probability}
    params = get_params(args.preset, **overrides)
    dataset = get_dataset(args.dataset, params.page_tokens)
    checkpoint = Checkpoint(params.model, compute_initial_state(params.model, 0))
    kinds = ["honest"] * args.miners + adversaries
    swarm = build_swarm(params, dataset, checkpoint, kinds, args.validators)
    print(f"epoch -  held-out loss {compute_heldout_loss(checkpoint, dataset):.4f}  miners {kinds}", flush=True)
    honest_weight, epochs = 0.0, []
    for _ in range(args.epochs):
        record = run_epoch(swarm)
        honest_weight += sum(w for uid, w in record.weights.items() if kinds[uid] == "honest")
        flags = {uid: reason for uid, reason in record.reasons.items() if reason}
        weights = " ".join(f"{uid}:{w:.3f}" for uid, w in sorted(record.weights.items()))
        print(
            f"epoch {record.epoch}  held-out loss {record.heldout_loss:.4f}  accepted {record.accepted}  "
            f"weights {weights}  flagged {flags}",
            flush=True,
        )
        epochs.append(
            {
                "epoch": record.epoch,
                "heldout_loss": record.heldout_loss,
                "checkpoint_hash": record.checkpoint_hash.hex(),
                "weights": {str(uid): w for uid, w in record.weights.items()},
            }
        )
    print(
        json.dumps(
            {
                "final_heldout_loss": epochs[-1]["heldout_loss"],
                "honest_share": honest_weight / args.epochs,
                "kinds": kinds,
                "epochs": epochs,
            }
        )
    )
    return 0
