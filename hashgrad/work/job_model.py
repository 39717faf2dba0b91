"""What a training job's checkpoint and dataset fix beyond its preset: the model and the tokenizer.

A job's work preset (chain/jobs.py `work_spec`) fixes the hyperparameters; the model family and
sizes come from the genesis checkpoint (imported from Hugging Face, or made by `work init`), and
the page size and tokenizer from the dataset manifest. `compute_job_params` puts the three
together, and refuses a dataset cut by another tokenizer than the checkpoint carries
(`wrong-tokenizer`) or holding ids the model's vocabulary lacks (`vocab-mismatch`), so every
miner, validator and server of the job reads the same tokens the same way.
"""

from __future__ import annotations

from dataclasses import replace

from hashgrad.errors import WorkError
from hashgrad.work.data import Dataset
from hashgrad.work.model import Checkpoint
from hashgrad.work.params import WorkParams
from hashgrad.work.tokenizer import BYTE_LEVEL, compute_tokenizer_id


def check_dataset_tokenizer(dataset: Dataset, checkpoint: Checkpoint) -> None:
    manifest = dataset.manifest
    expected = compute_tokenizer_id(checkpoint.tokenizer)
    if manifest.get("tokenizer", BYTE_LEVEL) != expected:
        raise WorkError(
            "wrong-tokenizer",
            f"the dataset was tokenized by {manifest.get('tokenizer', BYTE_LEVEL)}, the checkpoint carries {expected}",
        )
    if manifest.get("vocab_size", 256) > checkpoint.config.vocab_size:
        raise WorkError(
            "vocab-mismatch",
            f"dataset vocabulary {manifest.get('vocab_size', 256)} > model vocab_size {checkpoint.config.vocab_size}",
        )


def compute_job_params(params: WorkParams, checkpoint: Checkpoint, dataset: Dataset) -> WorkParams:
    """The preset's params with the checkpoint's model and the dataset's page size (checked)."""
    check_dataset_tokenizer(dataset, checkpoint)
    if params.model == checkpoint.config and params.page_tokens == dataset.page_tokens:
        return params
    # WorkParams.model is annotated GPTConfig in work/params.py (not this change's to edit) though a Llama
    # config flows through it too; the ignore goes once that field reads model.ModelConfig.
    job = replace(params, model=checkpoint.config, page_tokens=dataset.page_tokens)  # type: ignore[arg-type]
    return job.check()
