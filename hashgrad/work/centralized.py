"""Centralized training, the baseline the swarm is measured against (and a way to make a start model).

Same model, same AdamW settings and the same data pages as the miners, but one optimizer over
the whole training set: what a data-parallel run with `batch_size` samples per step would do.
The batch order comes from a seed over all training windows, so the run is reproducible.
"""
from __future__ import annotations

from dataclasses import replace

import torch

from hashgrad.work.data import Dataset, compute_batch_order, compute_windows
from hashgrad.work.hashing import compute_tagged_hash
from hashgrad.work.model import Checkpoint
from hashgrad.work.params import WorkParams

CENTRAL_HOTKEY = compute_tagged_hash("hashgrad/work/centralized", b"")


def compute_centralized_training(checkpoint: Checkpoint, dataset: Dataset, params: WorkParams, steps: int,
                                 batch_size: int, seed: bytes, on_step=None) -> Checkpoint:
    """`steps` AdamW steps of `batch_size` windows over all training pages; returns the new checkpoint."""
    order = compute_batch_order(seed, CENTRAL_HOTKEY, dataset.train_pages, params.windows_per_page, steps, batch_size)
    model = checkpoint.build_model()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.inner_lr, betas=params.inner_betas,
                                  weight_decay=params.inner_weight_decay, foreach=False, fused=False)
    window = params.model.block_size + 1
    for step, refs in enumerate(order):
        batch = compute_windows(dataset, refs, window)
        _, loss = model(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), params.inner_grad_clip, foreach=False)
        optimizer.step()
        if on_step is not None:
            on_step(step, loss.item())
    state = {name: p.detach().clone() for name, p in model.named_parameters()}
    return replace(checkpoint, state=dict(sorted(state.items())))
