"""Centralized training, the baseline the swarm is measured against (and a way to make a start model).

Same model, the same inner loop (`miner.run_inner_steps`, AdamW) and the same data pages as the
miners, but one optimizer over the whole training set: what a data-parallel run with `batch_size` samples per
step would do.
The batch order comes from a seed over all training windows, so the run is reproducible.
"""

from __future__ import annotations

from dataclasses import replace

from hashgrad.work.data import Dataset, compute_batch_order
from hashgrad.work.hashing import compute_tagged_hash
from hashgrad.work.miner import build_inner_optimizer, run_inner_steps
from hashgrad.work.model import Checkpoint
from hashgrad.work.params import WorkParams

CENTRAL_HOTKEY = compute_tagged_hash("hashgrad/work/centralized", b"")


def compute_centralized_training(
    checkpoint: Checkpoint, dataset: Dataset, params: WorkParams, steps: int, batch_size: int, seed: bytes, on_step=None
) -> Checkpoint:
    """`steps` AdamW steps of `batch_size` windows over all training pages; returns the new checkpoint."""
    order = compute_batch_order(seed, CENTRAL_HOTKEY, dataset.train_pages, params.windows_per_page, steps, batch_size)
    model = checkpoint.build_model()
    report = None if on_step is None else (lambda step, loss: on_step(step - 1, loss.item()))
    run_inner_steps(model, build_inner_optimizer(model, params), dataset, order, params, report)
    state = {name: p.detach().clone() for name, p in model.named_parameters()}
    return replace(checkpoint, state=dict(sorted(state.items())))
