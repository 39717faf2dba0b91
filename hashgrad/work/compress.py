"""Compression of pseudo-gradients: chunked top-k, quantized values, error feedback (SparseLoCo).

Each parameter tensor (canonical order) is flattened and cut into chunks of `chunk_size`
elements; each chunk keeps its `topk` largest-magnitude entries (a partial last chunk keeps a
proportional number, at least one). Indices are packed in just enough bits for a chunk
(`compute_index_bits`: 12 for 4096, 5 for 32), so small chunks buy more values per byte. Kept values are quantized per
tensor to `quant_bins` uniform bins over mean ± 3σ (Templar's scheme) and sent as bin codes
(2 bits for 4 bins) plus a per-tensor codebook of bin means.

Error feedback makes the sparsity affordable: the miner keeps e ← β·e + Δ, sends C(e) and keeps
e − D(C(e)) for next time, so what is not sent now is sent later. Nothing here depends on the
miner's state except through `ef`; decoding is a pure function of the payload and the layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from hashgrad.errors import WorkError
from hashgrad.work.model import ModelConfig, compute_param_shapes, shape_numel

MAX_CHUNK_SIZE = 4096  # chunk-local indices fit in 12 bits (and in uint16)


def compute_index_bits(chunk_size: int) -> int:
    """Bits per chunk-local index: just enough for `chunk_size` positions (12 for 4096, 5 for 32)."""
    return max(1, (chunk_size - 1).bit_length())


@dataclass(frozen=True)
class ChunkGroup:
    """`count` consecutive chunks of one tensor with the same length and kept count (a reshape)."""

    tensor: int  # index of its tensor in canonical order
    start: int  # offset of the first chunk in the flat vector
    count: int
    length: int
    keep: int


@dataclass(frozen=True)
class ChunkLayout:
    """Where each chunk sits in the flat vector and how many entries it keeps."""

    tensor: int
    start: int
    length: int
    keep: int


@dataclass(frozen=True)
class Layout:
    num_params: int
    num_tensors: int
    groups: tuple[ChunkGroup, ...]

    @property
    def total_keep(self) -> int:
        return sum(g.count * g.keep for g in self.groups)

    @cached_property
    def chunks(self) -> tuple[ChunkLayout, ...]:
        return tuple(
            ChunkLayout(g.tensor, g.start + i * g.length, g.length, g.keep) for g in self.groups for i in range(g.count)
        )

    @cached_property
    def value_starts(self) -> np.ndarray:
        """For every kept value (payload order), the flat offset of its chunk."""
        return np.concatenate(
            [np.repeat(g.start + g.length * np.arange(g.count, dtype=np.int64), g.keep) for g in self.groups]
        )

    @cached_property
    def tensor_of(self) -> np.ndarray:
        """For every kept value (payload order), the index of its tensor."""
        return np.concatenate([np.full(g.count * g.keep, g.tensor, dtype=np.int64) for g in self.groups])


def compute_layout(config: ModelConfig, chunk_size: int, topk: int) -> Layout:
    groups, offset = [], 0
    shapes = list(compute_param_shapes(config).values())
    for tensor, shape in enumerate(shapes):
        numel = shape_numel(shape)
        full, rest = divmod(numel, chunk_size)
        if full:
            groups.append(ChunkGroup(tensor, offset, full, chunk_size, topk))
        if rest:
            groups.append(
                ChunkGroup(tensor, offset + full * chunk_size, 1, rest, min(rest, max(1, topk * rest // chunk_size)))
            )
        offset += numel
    return Layout(offset, len(shapes), tuple(groups))


@dataclass(frozen=True)
class Payload:
    """A compressed update: chunk-local indices (ascending per chunk), bin codes, per-tensor codebooks."""

    indices: np.ndarray  # uint16, total_keep
    codes: np.ndarray  # uint8, total_keep
    codebook: np.ndarray  # float32, (num_tensors, bins)


def compute_topk(vector: torch.Tensor, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """(chunk-local indices ascending within each chunk, values at them) for the whole layout."""
    indices, values = [], []
    for g in layout.groups:
        pieces = vector[g.start : g.start + g.count * g.length].reshape(g.count, g.length)
        local = torch.topk(pieces.abs(), g.keep, dim=1, sorted=False).indices.sort(dim=1).values
        indices.append(local.reshape(-1).numpy().astype(np.uint16))
        values.append(torch.gather(pieces, 1, local).reshape(-1).numpy())
    return np.concatenate(indices), np.concatenate(values).astype(np.float32)


def compute_quantized(values: np.ndarray, tensor_of: np.ndarray, num_tensors: int, bins: int):
    """(codes, codebook): per tensor, uniform bins over mean ± 3 std; codebook = mean of each bin."""
    codes = np.zeros(len(values), dtype=np.uint8)
    codebook = np.zeros((num_tensors, bins), dtype=np.float32)
    for tensor in range(num_tensors):
        mask = tensor_of == tensor
        selected = values[mask].astype(np.float64)
        mean, std = selected.mean(), selected.std()
        width = 6 * std / bins if std > 0 else 1.0
        code = np.clip(np.floor((selected - (mean - 3 * std)) / width), 0, bins - 1).astype(np.uint8)
        codes[mask] = code
        for b in range(bins):
            in_bin = selected[code == b]
            codebook[tensor, b] = in_bin.mean() if len(in_bin) else 0.0
    return codes, codebook


def compress(vector: torch.Tensor, layout: Layout, bins: int) -> Payload:
    indices, values = compute_topk(vector, layout)
    codes, codebook = compute_quantized(values, layout.tensor_of, layout.num_tensors, bins)
    return Payload(indices, codes, codebook)


def decompress(payload: Payload, layout: Layout) -> torch.Tensor:
    """The dense float32 vector a payload stands for (zeros where nothing was sent)."""
    check_payload(payload, layout)
    dense = torch.zeros(layout.num_params, dtype=torch.float32)
    positions = torch.from_numpy(layout.value_starts + payload.indices.astype(np.int64))
    values = payload.codebook[layout.tensor_of, payload.codes.astype(np.int64)]
    dense[positions] = torch.from_numpy(values.astype(np.float32))
    return dense


def check_payload(payload: Payload, layout: Layout) -> None:
    """Raise WorkError unless the payload fits the layout exactly (counts, index ranges, finite)."""
    total = layout.total_keep
    if payload.indices.shape != (total,) or payload.codes.shape != (total,):
        raise WorkError("bad-payload-size", f"expected {total} kept entries")
    if payload.codebook.shape[0] != layout.num_tensors or not np.isfinite(payload.codebook).all():
        raise WorkError("bad-codebook", "codebook shape wrong or not finite")
    if int(payload.codes.max(initial=0)) >= payload.codebook.shape[1]:
        raise WorkError("bad-payload", "code beyond the codebook")
    offset = 0
    for g in layout.groups:
        local = payload.indices[offset : offset + g.count * g.keep].astype(np.int64).reshape(g.count, g.keep)
        if int(local[:, -1].max()) >= g.length or (g.keep > 1 and not (np.diff(local, axis=1) > 0).all()):
            raise WorkError("bad-indices", "indices must ascend strictly inside their chunk")
        offset += g.count * g.keep


def apply_error_feedback(ef: torch.Tensor, delta: torch.Tensor, layout: Layout, bins: int, decay: float):
    """(payload, next ef): e = decay·ef + Δ; send C(e); keep e − D(C(e))."""
    accumulated = decay * ef + delta
    payload = compress(accumulated, layout, bins)
    return payload, accumulated - decompress(payload, layout)


# ---- bit packing -------------------------------------------------------------------------------


def pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Big-endian bit fields of `bits` bits each, zero-padded to a whole byte."""
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint32)
    matrix = (values.astype(np.uint32)[:, None] >> shifts) & 1
    return np.packbits(matrix.astype(np.uint8).reshape(-1)).tobytes()


def unpack_bits(data: bytes, bits: int, count: int) -> np.ndarray:
    """Inverse of pack_bits; rejects wrong lengths and non-zero padding (one encoding per value)."""
    if len(data) != (count * bits + 7) // 8:
        raise WorkError("bad-payload-size", f"{len(data)} bytes cannot hold exactly {count} x {bits} bits")
    flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    if flat[count * bits :].any():
        raise WorkError("bad-payload", "non-zero padding bits")
    matrix = flat[: count * bits].reshape(count, bits).astype(np.uint32)
    return (matrix << np.arange(bits - 1, -1, -1, dtype=np.uint32)).sum(axis=1)


def compute_code_bits(bins: int) -> int:
    return max(1, (bins - 1).bit_length())
