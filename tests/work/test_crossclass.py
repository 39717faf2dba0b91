"""Hardware classes and tolerance replay in one process (hashgrad.work.hardware, work.crossclass).

Cross-kernel audits with real separate processes are in tests/functional/test_work_crossclass_audit.py;
here the replay machinery itself: resuming from a revealed state, reveal checks, bisection, the
audit's choice between exact and tolerance replay, devices and declared classes.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from hashgrad.errors import WorkError
from hashgrad.work.compress import compute_layout
from hashgrad.work.crossclass import check_cross_class, decode_reveal
from hashgrad.work.hardware import (
    CPU_FP32,
    Runtime,
    build_runtime,
    compute_kernel_env,
    is_exact_class,
    parse_device,
    parse_hardware_class,
)
from hashgrad.work.miner import compute_batches, compute_segment, compute_training_run
from hashgrad.work.portability import HOTKEY, SEED, build_claim
from hashgrad.work.scoring import ScoringInputs, Submission, compute_audit
from hashgrad.work.update import decode_update, parse_update_header


def decode(artifact, params):
    return decode_update(artifact, params, compute_layout(params.model, params.chunk_size, params.topk))[0]


def test_resuming_from_a_revealed_state_gives_the_same_bits(checkpoint, dataset, params):
    full = compute_training_run(checkpoint, dataset, SEED, HOTKEY, params)
    batches = compute_batches(dataset, SEED, HOTKEY, params)
    resumed = compute_segment(checkpoint, dataset, batches, params, full.states[0], params.inner_steps)
    assert torch.equal(resumed.end.params, full.end.params) and torch.equal(resumed.end.exp_avg, full.end.exp_avg)
    assert resumed.milestones == full.milestones[1:]


def test_reveal_is_checked_against_the_update(checkpoint, dataset, params):
    artifact, reveal = build_claim("honest", checkpoint, dataset, params, CPU_FP32)
    header = decode(artifact, params)
    assert set(decode_reveal(reveal, header, params).states) == {5, 10}
    other_header = decode(build_claim("old-update", checkpoint, dataset, params, CPU_FP32)[0], params)
    with pytest.raises(WorkError) as exc:
        decode_reveal(reveal, other_header, params)
    assert exc.value.reason == "reveal-mismatch"
    with pytest.raises(WorkError) as exc:
        decode_reveal(reveal[:-4], header, params)
    assert exc.value.reason == "bad-safetensors"
    with pytest.raises(WorkError) as exc:
        decode_reveal(reveal, header, replace(params, max_reveal_bytes=1000))
    assert exc.value.reason == "too-large"
    missing = check_cross_class(checkpoint, dataset, SEED, HOTKEY, params, header, None, CPU_FP32)
    assert not missing.passed and missing.reason == "reveal-mismatch"


def test_tolerance_replay_accepts_honest_work_and_bisects_a_cheat(checkpoint, dataset, params):
    honest_artifact, honest_reveal = build_claim("honest", checkpoint, dataset, params, CPU_FP32)
    verdict = check_cross_class(
        checkpoint, dataset, SEED, HOTKEY, params, decode(honest_artifact, params), honest_reveal, CPU_FP32
    )
    # θ_0 − (θ_0 − θ_end) rounds: the same bits still leave a drift at float32 resolution
    assert verdict.passed and verdict.drift < 1e-6 and verdict.replayed_steps == params.inner_steps
    artifact, reveal = build_claim("skipped-steps", checkpoint, dataset, params, CPU_FP32)
    verdict = check_cross_class(checkpoint, dataset, SEED, HOTKEY, params, decode(artifact, params), reveal, CPU_FP32)
    assert not verdict.passed and verdict.reason == "drift-exceeded" and verdict.first_bad_step == 10


def test_audit_replays_exactly_within_a_class_and_with_tolerance_across(checkpoint, base_hash, dataset, params):
    artifact, reveal = build_claim("noised", checkpoint, dataset, params, CPU_FP32)
    header = decode(artifact, params)
    inputs = ScoringInputs(params, 1, SEED, bytes(32), checkpoint, base_hash, dataset, ())
    sub = Submission(0, HOTKEY, bytes(32), 0, artifact, reveal)
    passed, replayed, step, evidence = compute_audit(inputs, sub, header, params.inner_steps)  # exact
    assert (passed, replayed, step) == (False, params.inner_steps, params.inner_steps)
    assert evidence is not None and evidence.step == step  # the mismatch is evidence others can re-check
    elsewhere = replace(header, hardware="cpu/SOME-OTHER-KERNEL/fp32/2.13.0+cpu/1")
    passed, replayed, step, evidence = compute_audit(inputs, sub, elsewhere, params.inner_steps)
    assert not passed and step == params.inner_steps and replayed > params.inner_steps and evidence is None
    honest_artifact, honest_reveal = build_claim("honest", checkpoint, dataset, params, CPU_FP32)
    honest = replace(decode(honest_artifact, params), hardware=elsewhere.hardware)
    assert compute_audit(inputs, replace(sub, reveal=honest_reveal), honest, 5)[0]


def test_devices_and_declared_classes(params):
    assert parse_device("cpu") == torch.device("cpu") and parse_device(None).type in ("cpu", "cuda", "mps")
    for text, reason in (("gpu", "bad-device"), ("mps:1", "bad-device"), ("cpu:0", "bad-device")):
        with pytest.raises(WorkError) as exc:
            parse_device(text)
        assert exc.value.reason == reason
    if not torch.cuda.is_available():
        with pytest.raises(WorkError) as exc:
            parse_device("cuda:0")
        assert exc.value.reason == "device-unavailable"
    declared = parse_hardware_class(CPU_FP32.get_class().to_text())
    assert declared == CPU_FP32.get_class() and is_exact_class(declared, declared)
    assert not is_exact_class(replace(declared, processes=2), replace(declared, processes=2))
    assert not is_exact_class(replace(declared, device_type="cuda"), replace(declared, device_type="cuda"))
    for bad in ("cpu/AVX2/fp32/2.13.0", "tpu/x/fp32/2/1", "cpu/AVX2/fp16/2/1", "cpu/AVX2/fp32/2/0", "x" * 200, 7):
        with pytest.raises(WorkError) as exc:
            parse_hardware_class(bad)
        assert exc.value.reason == "bad-hardware-class"
    assert compute_kernel_env("AVX2", {})["ATEN_CPU_CAPABILITY"] == "avx2"


def test_job_lists_the_precisions_it_accepts(checkpoint, dataset, params):
    runtime = build_runtime("cpu", "bf16")  # bf16 autocast runs on every CPU
    short = replace(params, inner_steps=2, audit_stride=1, precisions=("fp32", "bf16"))
    artifact, _ = build_claim("honest", checkpoint, dataset, short, runtime)
    assert "/bf16/" in decode(artifact, short).hardware
    with pytest.raises(WorkError) as exc:
        decode(artifact, replace(short, precisions=("fp32",)))  # the default: fp32 only
    assert exc.value.reason == "wrong-precision"
    with pytest.raises(WorkError) as exc:
        parse_update_header({})
    assert exc.value.reason == "bad-header"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_update_passes_a_cpu_validators_tolerance_replay(checkpoint, dataset, params):
    cuda = Runtime(torch.device("cuda"))
    artifact, reveal = build_claim("honest", checkpoint, dataset, params, cuda)
    header = decode(artifact, params)
    assert header.hardware.startswith("cuda/sm")
    verdict = check_cross_class(checkpoint, dataset, SEED, HOTKEY, params, header, reveal, CPU_FP32)
    assert verdict.passed, verdict
    cheat, cheat_reveal = build_claim("scaled", checkpoint, dataset, params, cuda)
    assert not check_cross_class(
        checkpoint, dataset, SEED, HOTKEY, params, decode(cheat, params), cheat_reveal, CPU_FP32
    ).passed
