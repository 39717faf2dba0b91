"""Top-k + quantization + error feedback, and the update artifact format (compress, update)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save as safetensors_save

from hashgrad.errors import WorkError
from hashgrad.work.compress import apply_error_feedback, compress, compute_layout, decompress, pack_bits, unpack_bits
from hashgrad.work.miner import build_update
from hashgrad.work.model import compute_num_params
from hashgrad.work.params import get_preset
from hashgrad.work.update import decode_update, parse_update_header

HK, BASE = b"\x07" * 32, b"\x08" * 32


def test_pack_bits_roundtrip_and_canonical_padding():
    values = np.array([0, 1, 4095, 17, 2048], dtype=np.uint32)
    data = pack_bits(values, 12)
    assert len(data) == 8 and (unpack_bits(data, 12, 5) == values).all()
    with pytest.raises(WorkError) as exc:
        unpack_bits(data[:-1] + bytes([data[-1] | 1]), 12, 5)
    assert exc.value.reason == "bad-payload"


def test_demo_artifact_is_over_100x_smaller_than_dense_fp32():
    params = get_preset("demo")
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    payload = compress(torch.randn(layout.num_params, generator=torch.Generator().manual_seed(0)), layout, 4)
    artifact, _, _ = build_update(params, 0, BASE, HK, b"\x00" * 32, payload, layout)
    assert 4 * compute_num_params(params.model) / len(artifact) >= 100


def test_error_feedback_eventually_sends_everything(params):
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    delta = torch.randn(layout.num_params, generator=torch.Generator().manual_seed(1)) * 1e-2
    ef, sent = torch.zeros(layout.num_params), torch.zeros(layout.num_params)
    for _ in range(60):
        payload, ef = apply_error_feedback(ef, delta, layout, params.quant_bins, decay=1.0)
        sent += decompress(payload, layout)
    # with decay 1 the residual stays bounded, so the mean sent per round converges to delta
    assert torch.nn.functional.cosine_similarity(sent / 60, delta, dim=0) > 0.9


def make_artifact(params, payload=None):
    layout = compute_layout(params.model, params.chunk_size, params.topk)
    vector = torch.randn(layout.num_params, generator=torch.Generator().manual_seed(2))
    payload = payload or compress(vector, layout, params.quant_bins)
    artifact, _, _ = build_update(params, 3, BASE, HK, b"\x01" * 32, payload, layout)
    return artifact, layout, payload


def test_update_artifact_roundtrip(params):
    artifact, layout, payload = make_artifact(params)
    header, decoded = decode_update(artifact, params, layout)
    assert (header.epoch, header.hotkey, header.base_checkpoint) == (3, HK, BASE)
    assert (decoded.indices == payload.indices).all() and (decoded.codes == payload.codes).all()
    assert torch.equal(decompress(decoded, layout), decompress(payload, layout))


def reason_of(data, params, layout):
    with pytest.raises(WorkError) as exc:
        decode_update(data, params, layout)
    return exc.value.reason


def resave(artifact, tensors=None, header_edit=None):
    from safetensors.torch import load

    from hashgrad.work.model import read_safetensors_header

    meta = json.loads(read_safetensors_header(artifact, 1 << 30)["__metadata__"]["hashgrad"])
    if header_edit:
        header_edit(meta)
    base = load(artifact)
    base.update(tensors or {})
    return safetensors_save(base, metadata={"hashgrad": json.dumps(meta)})


def test_malformed_artifacts_are_rejected_with_reasons(params, tmp_path, monkeypatch):
    artifact, layout, payload = make_artifact(params)
    assert reason_of(artifact[: len(artifact) // 2], params, layout) == "bad-safetensors"  # truncated
    assert reason_of(artifact + b"\x00" * (params.max_artifact_bytes), params, layout) == "too-large"
    assert reason_of(resave(artifact, {"codebook": torch.zeros(3, 4)}), params, layout) == "bad-shape"
    nan_book = torch.from_numpy(payload.codebook.copy())
    nan_book[0, 0] = float("nan")
    assert reason_of(resave(artifact, {"codebook": nan_book}), params, layout) == "bad-codebook"
    assert (
        reason_of(resave(artifact, {"indices": torch.zeros(5, dtype=torch.uint8)}), params, layout)
        == "bad-payload-size"
    )
    assert reason_of(resave(artifact, {"extra": torch.zeros(1)}), params, layout) == "bad-tensor-names"
    assert reason_of(resave(artifact, header_edit=lambda m: m.update(topk=1)), params, layout) == "wrong-compression"
    assert reason_of(resave(artifact, header_edit=lambda m: m.update(job_id=9)), params, layout) == "wrong-job"
    assert reason_of(resave(artifact, header_edit=lambda m: m.pop("hotkey")), params, layout) == "bad-header"
    assert (
        reason_of(resave(artifact, header_edit=lambda m: m["milestones"].pop()), params, layout) == "wrong-milestones"
    )
    # descending indices inside a chunk would be a second encoding of the same update
    bad = payload.indices.copy()
    at = sum(c.keep for c in layout.chunks[: next(i for i, c in enumerate(layout.chunks) if c.keep > 1)])
    bad[at], bad[at + 1] = bad[at + 1], bad[at]
    swapped, _, _ = make_artifact(params, type(payload)(bad, payload.codes, payload.codebook))
    assert reason_of(swapped, params, layout) == "bad-indices"
    monkeypatch.chdir(tmp_path)

    class Boom:
        def __reduce__(self):
            return (exec, ("open('PWNED', 'w').write('x')",))

    assert reason_of(pickle.dumps(Boom()), params, layout) == "bad-safetensors"
    assert not (tmp_path / "PWNED").exists()


def test_invalid_header_hex():
    raw = {
        "format": "hashgrad-update-v2",
        "job_id": 0,
        "epoch": 0,
        "base_checkpoint": "zz" * 32,
        "hotkey": "00" * 32,
        "delta_hash": "00" * 32,
        "hardware": "cpu/AVX2/fp32/2.13.0/1",
        "num_params": 1,
        "chunk_size": 1,
        "topk": 1,
        "quant_bins": 4,
        "batch_size": 8,
        "inner_steps": 12,
        "milestones": ["00" * 8],
        "reveal": "00" * 32,
    }
    with pytest.raises(WorkError) as exc:
        parse_update_header(raw)
    assert exc.value.reason == "bad-hex"
    for milestones, reason in ((["zz" * 8], "bad-hex"), (["00" * 7], "bad-header"), ("00" * 8, "bad-header")):
        with pytest.raises(WorkError) as exc:
            parse_update_header({**raw, "base_checkpoint": "00" * 32, "milestones": milestones})
        assert exc.value.reason == reason
    for reveal in ("zz" * 32, "00" * 31, None):  # the reveal manifest's hash
        with pytest.raises(WorkError) as exc:
            parse_update_header({**raw, "base_checkpoint": "00" * 32, "reveal": reveal})
        assert exc.value.reason == "bad-hex"


def test_index_width_follows_the_chunk_size(params):
    from dataclasses import replace

    from hashgrad.work.compress import compute_index_bits

    assert [compute_index_bits(n) for n in (4096, 1024, 32, 24, 2, 1)] == [12, 10, 5, 5, 1, 1]
    small = replace(get_preset("small"), chunk_size=32, topk=1)
    layout = compute_layout(small.model, 32, 1)
    assert layout.total_keep == -(-compute_num_params(small.model) // 32)  # one value per chunk of 32
    payload = compress(torch.randn(layout.num_params, generator=torch.Generator().manual_seed(4)), layout, 4)
    artifact, _, _ = build_update(small, 0, BASE, HK, b"\x00" * 32, payload, layout)
    header, decoded = decode_update(artifact, small, layout)
    assert torch.equal(decompress(decoded, layout), decompress(payload, layout))
    # 5-bit indices and 2-bit codes: 7 bits a value, the bytes of 12 + 2 bits for half as many values
    assert (
        (layout.total_keep * 7 + 7) // 8 < len(artifact) < (layout.total_keep * 7 + 7) // 8 + 1400
    )  # + header, codebook
    assert 4 * compute_num_params(small.model) / len(artifact) >= 100
    assert len(header.milestones) == 5  # H = 30, a milestone every 5 steps but the last
