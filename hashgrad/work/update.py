"""The update artifact: a compressed pseudo-gradient as safetensors plus a header naming its context.

Bytes: one safetensors file with three tensors — `indices` (uint8, chunk-local indices packed in
`compute_index_bits(chunk_size)` bits each), `codes` (uint8, packed bin codes), `codebook` (float32,
tensors x bins) — and a single metadata key "hashgrad" holding canonical JSON:

    format, job_id, epoch, base_checkpoint (hex), hotkey (hex), delta_hash (hex), hardware,
    num_params, chunk_size, topk, quant_bins, batch_size, inner_steps, milestones (hex list), reveal (hex)

`batch_size` and `inner_steps` are the effort the miner declares: windows per inner step, within
the job's [min_batch_size, batch_size], and steps, 1..H (`milestones` are those its steps reach).
Audits replay the run at that batch and to those steps (get_run_params), and the validator scales
the miner's credit by the declared tokens, so a miner is paid for the work it can prove, as a
Bitcoin miner is: under-declaring costs pay, over-declaring fails the first audit that draws it.

`delta_hash` is sha256 of the dense float32 pseudo-gradient the miner computed; `milestones` are
truncated hashes of its inner state (weights and AdamW moments) after every `audit_stride` inner
steps; `hardware` is the class it trained on (work.hardware: device/arch or kernel/precision/torch/
processes), signed and hashed with the rest; `reveal` is the sha256 of the manifest of the miner's
reveal (Δ and milestone states, stored as chunks on its node: work.reveal), zeros when it published
none. A validator of the same CPU class replays a prefix of
the run bit-exactly, to a milestone the miner could not predict, and compares hashes; a validator
of another class replays with a tolerance from the revealed states (work.crossclass). The artifact id is
sha256 of the bytes (content addressing), and the
on-chain commitment binds that id to hotkey, job, epoch and base checkpoint.
Decoding never executes anything: sizes are checked before parsing and every field after.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from safetensors.torch import save as safetensors_save

from hashgrad.chain.encoding import parse_hex
from hashgrad.errors import WorkError
from hashgrad.work.compress import (
    Layout,
    Payload,
    check_payload,
    compute_code_bits,
    compute_index_bits,
    pack_bits,
    unpack_bits,
)
from hashgrad.work.hardware import parse_hardware_class
from hashgrad.work.hashing import compute_sha256
from hashgrad.work.model import compute_header_json, decode_safetensors
from hashgrad.work.params import WorkParams

MILESTONE_BYTES = 8  # truncated sha256 of the weights (a match still needs the exact state: 2^64 guesses)

# v5: the declared batch_size and inner_steps; v4: reveal manifest; v3: hardware class; v2: index width, milestones
UPDATE_FORMAT = "hashgrad-update-v5"
MAX_MILESTONES = 1024


@dataclass(frozen=True)
class UpdateHeader:
    job_id: int
    epoch: int
    base_checkpoint: bytes
    hotkey: bytes
    delta_hash: bytes
    hardware: str  # work.hardware.HardwareClass.to_text()
    num_params: int
    chunk_size: int
    topk: int
    quant_bins: int
    batch_size: int  # windows per inner step the miner declares it trained on
    inner_steps: int  # inner steps the miner declares it ran
    milestones: tuple[bytes, ...] = ()
    reveal: bytes = bytes(32)  # sha256 of the reveal's manifest (work.reveal); zeros: none published

    def to_json(self) -> dict:
        raw = asdict(self)
        for name in ("base_checkpoint", "hotkey", "delta_hash", "reveal"):
            raw[name] = raw[name].hex()
        raw["milestones"] = [m.hex() for m in self.milestones]
        return {"format": UPDATE_FORMAT, **raw}


def compute_milestone_steps(params: WorkParams) -> tuple[int, ...]:
    """The inner steps after which a miner declares its weight hash (not the last: delta_hash covers it)."""
    return tuple(range(params.audit_stride, params.inner_steps, params.audit_stride))


def encode_update(header: UpdateHeader, payload: Payload) -> bytes:
    bits = compute_code_bits(header.quant_bins)
    tensors = {
        "indices": torch.frombuffer(
            bytearray(pack_bits(payload.indices, compute_index_bits(header.chunk_size))), dtype=torch.uint8
        ),
        "codes": torch.frombuffer(bytearray(pack_bits(payload.codes, bits)), dtype=torch.uint8),
        "codebook": torch.from_numpy(np.ascontiguousarray(payload.codebook, dtype=np.float32)),
    }
    return safetensors_save(tensors, metadata={"hashgrad": compute_header_json(header.to_json())})


def parse_update_header(raw: dict) -> UpdateHeader:
    fields = set(UpdateHeader.__dataclass_fields__) | {"format"}
    if set(raw) != fields:
        raise WorkError("bad-header", "update header fields do not match")
    ints = ("job_id", "epoch", "num_params", "chunk_size", "topk", "quant_bins", "batch_size", "inner_steps")
    if not all(isinstance(raw[k], int) and not isinstance(raw[k], bool) and 0 <= raw[k] < 2**64 for k in ints):
        raise WorkError("bad-header", "integer fields out of range")
    parse_hardware_class(raw["hardware"])
    milestones = raw["milestones"]
    if (
        not isinstance(milestones, list)
        or len(milestones) > MAX_MILESTONES
        or not all(isinstance(m, str) and len(m) == 2 * MILESTONE_BYTES for m in milestones)
    ):
        raise WorkError("bad-header", f"milestones must be a list of {MILESTONE_BYTES}-byte hex hashes")
    parsed = tuple(parse_hex(m, "milestone", size=MILESTONE_BYTES, error=WorkError) for m in milestones)
    return UpdateHeader(
        job_id=raw["job_id"],
        epoch=raw["epoch"],
        hardware=raw["hardware"],
        num_params=raw["num_params"],
        chunk_size=raw["chunk_size"],
        topk=raw["topk"],
        quant_bins=raw["quant_bins"],
        batch_size=raw["batch_size"],
        inner_steps=raw["inner_steps"],
        base_checkpoint=parse_hex(raw["base_checkpoint"], "base_checkpoint", size=32, error=WorkError),
        hotkey=parse_hex(raw["hotkey"], "hotkey", size=32, error=WorkError),
        delta_hash=parse_hex(raw["delta_hash"], "delta_hash", size=32, error=WorkError),
        milestones=parsed,
        reveal=parse_hex(raw["reveal"], "reveal", size=32, error=WorkError),
    )


def check_header_matches_job(header: UpdateHeader, params: WorkParams, layout: Layout) -> None:
    if header.job_id != params.job_id:
        raise WorkError("wrong-job", f"artifact for job {header.job_id}")
    if (header.chunk_size, header.topk, header.quant_bins) != (params.chunk_size, params.topk, params.quant_bins):
        raise WorkError("wrong-compression", "compression settings differ from the job's")
    if header.num_params != layout.num_params:
        raise WorkError("wrong-model", f"{header.num_params} parameters, job has {layout.num_params}")
    if not params.min_batch_size <= header.batch_size <= params.batch_size:
        raise WorkError(
            "wrong-batch", f"batch {header.batch_size}; the job allows {params.min_batch_size}..{params.batch_size}"
        )
    if not 1 <= header.inner_steps <= params.inner_steps:
        raise WorkError("wrong-steps", f"{header.inner_steps} inner steps; the job allows 1..{params.inner_steps}")
    expected = len(compute_milestone_steps(get_run_params(params, header)))
    if len(header.milestones) != expected:
        raise WorkError(
            "wrong-milestones", f"{len(header.milestones)} milestones, {header.inner_steps} steps declare {expected}"
        )
    precision = parse_hardware_class(header.hardware).precision
    if precision not in params.precisions:
        raise WorkError("wrong-precision", f"trained in {precision}; the job accepts {', '.join(params.precisions)}")


def get_run_params(params: WorkParams, header: UpdateHeader) -> WorkParams:
    """The job's parameters as the miner declares it ran them (batch size, inner steps): what replays use."""
    if (header.batch_size, header.inner_steps) == (params.batch_size, params.inner_steps):
        return params
    return replace(params, batch_size=header.batch_size, inner_steps=header.inner_steps)


def decode_update(data: bytes, params: WorkParams, layout: Layout) -> tuple[UpdateHeader, Payload]:
    """Validate update bytes against the job and decode them; raises WorkError with a reason."""
    raw, tensors = decode_safetensors(data, params.max_artifact_bytes, UPDATE_FORMAT)
    header = parse_update_header(raw)
    check_header_matches_job(header, params, layout)
    if set(tensors) != {"indices", "codes", "codebook"}:
        raise WorkError("bad-tensor-names", "expected tensors indices, codes, codebook")
    if any(tensors[name].dtype != torch.uint8 or tensors[name].dim() != 1 for name in ("indices", "codes")):
        raise WorkError("bad-dtype", "indices and codes must be 1-D uint8")
    codebook = tensors["codebook"]
    if codebook.dtype != torch.float32 or tuple(codebook.shape) != (layout.num_tensors, params.quant_bins):
        raise WorkError("bad-shape", "codebook must be float32 (tensors, bins)")
    total = layout.total_keep
    payload = Payload(
        indices=unpack_bits(tensors["indices"].numpy().tobytes(), compute_index_bits(params.chunk_size), total).astype(
            np.uint16
        ),
        codes=unpack_bits(tensors["codes"].numpy().tobytes(), compute_code_bits(params.quant_bins), total).astype(
            np.uint8
        ),
        codebook=codebook.numpy().copy(),
    )
    check_payload(payload, layout)
    return header, payload


def compute_artifact_id(data: bytes) -> bytes:
    return compute_sha256(data)


def compute_delta_hash(delta: torch.Tensor) -> bytes:
    """sha256 of the dense pseudo-gradient's float32 little-endian bytes (canonical order)."""
    return compute_sha256(delta.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes())
