"""Hostile safetensors headers in update and checkpoint artifacts fail with WorkError, never anything else.

Before the fix a deeply nested JSON header raised RecursionError and an integer with thousands of
digits raised ValueError out of the decoders, which nothing caught: one miner could stop every validator.
"""

from __future__ import annotations

import json
import struct

import pytest

from hashgrad.errors import WorkError
from hashgrad.safejson import compute_json_depth, parse_json
from hashgrad.work.compress import compute_layout
from hashgrad.work.model import decode_checkpoint
from hashgrad.work.update import decode_update

DEEP = "[" * 50_000 + "]" * 50_000


def make_safetensors(outer: str) -> bytes:
    raw = outer.encode()
    return struct.pack("<Q", len(raw)) + raw


def make_meta(inner: str) -> bytes:
    return make_safetensors(json.dumps({"__metadata__": {"hashgrad": inner}}))


HOSTILE = {
    "deep-outer": make_safetensors(DEEP),
    "deep-outer-object": make_safetensors('{"a":' * 20_000 + "1" + "}" * 20_000),
    "deep-inner": make_meta(DEEP),
    "huge-int": make_meta('{"format":"hashgrad-checkpoint-v1","config":{"vocab_size":1' + "0" * 5000 + "}}"),
    "nan": make_meta('{"format":"hashgrad-checkpoint-v1","config":{"layer_norm_epsilon":NaN}}'),
    "metadata-list": make_safetensors('{"__metadata__":[1,2]}'),
    "inner-list": make_meta("[1]"),
    "config-list": make_meta(json.dumps({"format": "hashgrad-checkpoint-v1", "config": [1]})),
    "format-object": make_meta(json.dumps({"format": {"a": 1}})),
    "bad-utf8": struct.pack("<Q", 4) + b"\xff\xfe{}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_checkpoint_decoder_raises_only_work_error(name):
    with pytest.raises(WorkError) as exc:
        decode_checkpoint(HOSTILE[name])
    assert exc.value.reason in ("bad-safetensors", "bad-header", "bad-format", "bad-model-config")


UPDATE_HOSTILE = HOSTILE | {
    "update-fields-wrong-types": make_meta(
        json.dumps(
            {
                "format": "hashgrad-update-v2",
                "job_id": [0],
                "epoch": {},
                "kernel": 1,
                "num_params": "x",
                "chunk_size": 1.5,
                "topk": None,
                "quant_bins": True,
                "base_checkpoint": 7,
                "hotkey": [],
                "delta_hash": {},
                "milestones": "ab",
            }
        )
    ),
    "update-hash-not-text": make_meta(
        json.dumps(
            {
                "format": "hashgrad-update-v2",
                "job_id": 0,
                "epoch": 0,
                "kernel": "k",
                "num_params": 1,
                "chunk_size": 1,
                "topk": 1,
                "quant_bins": 1,
                "base_checkpoint": [1],
                "hotkey": "00",
                "delta_hash": "00",
                "milestones": [],
            }
        )
    ),
}


@pytest.mark.parametrize("name", sorted(UPDATE_HOSTILE))
def test_update_decoder_raises_only_work_error(name, params):
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    with pytest.raises(WorkError) as exc:
        decode_update(UPDATE_HOSTILE[name], params, layout)
    assert exc.value.reason in ("bad-safetensors", "bad-header", "bad-format", "bad-hex")


def test_parse_json_depth_ignores_brackets_inside_strings():
    assert compute_json_depth('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 32) == 1
    assert parse_json('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"["}', WorkError, "x") == {
        "a": "[" * 42 + '"['
    }
    with pytest.raises(WorkError) as exc:
        parse_json("[" * 33 + "]" * 33, WorkError, "deep")
    assert exc.value.reason == "deep"
    assert parse_json("[" * 32 + "]" * 32, WorkError, "deep") is not None


def test_scoring_zeroes_the_sender_of_a_hostile_artifact_and_scores_the_rest(checkpoint, base_hash, dataset, params):
    """The validator's scoring meets the hostile artifact as a verdict (weight 0), not as an exception."""
    from dataclasses import replace

    from hashgrad.work.adversaries import MinerContext, compute_output
    from hashgrad.work.hashing import compute_tagged_hash
    from hashgrad.work.scoring import ScoringInputs, Submission, ValidatorState, compute_scores

    seed, salt = b"\x31" * 32, b"\x41" * 32
    keys = [compute_tagged_hash("test/hotkey", bytes([uid])) for uid in range(2)]
    honest = compute_output("honest", MinerContext(checkpoint, base_hash, dataset, seed, keys[0], 1, params))
    subs = (
        Submission(0, keys[0], honest.commitment, 0, honest.artifact),
        Submission(1, keys[1], b"\x00" * 32, 1, HOSTILE["deep-inner"]),
    )
    inputs = ScoringInputs(replace(params, audit_probability=0.0), 1, seed, salt, checkpoint, base_hash, dataset, subs)
    report = compute_scores(inputs, ValidatorState())
    reasons = {v.uid: v.reason for v in report.verdicts}
    assert reasons[1] == "bad-header"
    assert report.weights.get(1, 0.0) == 0.0
