"""The model: a small decoder-only GPT with GPT-2's parameter layout, and its checkpoint bytes.

Read it like nanoGPT. Parameter names and shapes follow Hugging Face's `GPT2Model` exactly
(`wte`, `wpe`, `h.N.ln_1`, `h.N.attn.c_attn`, `h.N.attn.c_proj`, `h.N.ln_2`, `h.N.mlp.c_fc`,
`h.N.mlp.c_proj`, `ln_f`; linear weights stored [in, out] as GPT-2's Conv1D does; the LM head is
tied to `wte`), so a trained checkpoint loads into `transformers` by renaming nothing.

Attention is written out (no fused kernel) so the arithmetic, and therefore the bits, do not
depend on which attention backend a torch build picks: replay audits need bit-exact steps.

A checkpoint is one safetensors file whose metadata holds a single key, "hashgrad", with a
canonical JSON header carrying the config. Its bytes are canonical (same weights -> same bytes)
and `checkpoint_hash` = sha256 of them is what goes on chain. Loading validates everything.
Format v1 holds the weights only; v2 adds the outer optimizer's state (`outer.momentum`, one flat
float32 vector in canonical order) so that the next checkpoint stays a pure function of this one,
the accepted updates and the consensus weights. The weights are the same tensors in both.

Families: this file holds GPT-2; the Llama-style family is in work/models/llama.py. A config's type
names its family (a Llama config carries `"model_type": "llama"`; a GPT config keeps its original
fields, so GPT checkpoints keep their bytes), and `build_model`, `compute_param_shapes` and
`compute_initial_state` dispatch on it. A checkpoint may carry its tokenizer (a Hugging Face
`tokenizer.json`) as the uint8 tensor `tokenizer.json`, with its sha256 in the header's "tokenizer"
field: the tokenizer is then part of the checkpoint hash, hence of the job's definition. Without
one the vocabulary is the 256 byte values.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save
from torch import nn

from hashgrad.errors import WorkError
from hashgrad.safejson import parse_json
from hashgrad.work.hashing import compute_sha256
from hashgrad.work.models import llama

CHECKPOINT_FORMAT = "hashgrad-checkpoint-v1"  # weights only
CHECKPOINT_FORMAT_OUTER = "hashgrad-checkpoint-v2"  # weights + outer momentum
MOMENTUM_TENSOR = "outer.momentum"
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024
MAX_HEADER_BYTES = 1024 * 1024
TOKENIZER_TENSOR = "tokenizer.json"
MAX_TOKENIZER_BYTES = 32 * 1024 * 1024
TOKENIZER_CONFIG_KEYS = ("bos_token", "chat_template", "eos_token", "pad_token", "unk_token")
MAX_TOKENIZER_CONFIG_CHARS = 256 * 1024


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 256  # byte-level: token = byte
    block_size: int = 128  # context length
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    layer_norm_epsilon: float = 1e-5

    def check(self) -> GPTConfig:
        """Raise WorkError unless the config is sane and small enough to hold in memory."""
        ints = (self.vocab_size, self.block_size, self.n_layer, self.n_head, self.n_embd)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in ints):
            raise WorkError("bad-model-config", "sizes must be positive integers")
        if self.n_embd % self.n_head:
            raise WorkError("bad-model-config", "n_embd must be a multiple of n_head")
        if self.vocab_size > 1 << 20 or self.block_size > 1 << 16 or self.n_layer > 256 or self.n_embd > 1 << 14:
            raise WorkError("bad-model-config", "config too large")
        if not (isinstance(self.layer_norm_epsilon, float) and 0 < self.layer_norm_epsilon < 1):
            raise WorkError("bad-model-config", "layer_norm_epsilon out of range")
        return self


MODEL_PRESETS: dict[str, GPTConfig] = {
    "demo": GPTConfig(),  # 0.84M parameters
    "small": GPTConfig(block_size=64, n_layer=2, n_head=4, n_embd=64),  # 0.12M parameters
    "tiny": GPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=32),  # 35K parameters
}


class Conv1D(nn.Module):
    """GPT-2's linear layer: weight stored [in, out], y = x @ W + b."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight + self.bias


class Attention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = Conv1D(config.n_embd, 3 * config.n_embd)  # query, key, value at once
        self.c_proj = Conv1D(config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.c_attn(x).split(width, dim=2)
        # (B, T, C) -> (B, heads, T, head size)
        q, k, v = (t.view(batch, length, self.n_head, width // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(batch, length, width)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = Conv1D(config.n_embd, 4 * config.n_embd)
        self.c_proj = Conv1D(4 * config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # GPT-2's "gelu_new"


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = Attention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT-2 body with a tied LM head; `forward(idx, targets)` returns (logits, mean loss)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config.check()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        length = idx.size(1)
        if length > self.config.block_size:
            raise WorkError("sequence-too-long", f"{length} > block_size {self.config.block_size}")
        pos = torch.arange(length, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.t()  # tied head, as GPT-2
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss


ModelConfig = GPTConfig | llama.LlamaConfig  # a config's type names its family
TrainableModel = GPT | llama.Llama  # what build_model makes: forward(idx, targets) -> (logits, loss)


def build_model(config: ModelConfig) -> TrainableModel:
    """The one constructor every path uses: the family the config names, freshly initialised."""
    if isinstance(config, llama.LlamaConfig):
        return llama.Llama(config)
    return GPT(config)


def compute_num_params(config: ModelConfig) -> int:
    return sum(shape_numel(shape) for shape in compute_param_shapes(config).values())


def shape_numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def compute_param_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape in canonical (sorted-name) order: the layout of flat vectors."""
    if isinstance(config, llama.LlamaConfig):
        return llama.compute_param_shapes(config)
    c, e = config, config.n_embd
    shapes = {"wte.weight": (c.vocab_size, e), "wpe.weight": (c.block_size, e), "ln_f.weight": (e,), "ln_f.bias": (e,)}
    for i in range(c.n_layer):
        p = f"h.{i}."
        shapes |= {
            p + "ln_1.weight": (e,),
            p + "ln_1.bias": (e,),
            p + "ln_2.weight": (e,),
            p + "ln_2.bias": (e,),
            p + "attn.c_attn.weight": (e, 3 * e),
            p + "attn.c_attn.bias": (3 * e,),
            p + "attn.c_proj.weight": (e, e),
            p + "attn.c_proj.bias": (e,),
            p + "mlp.c_fc.weight": (e, 4 * e),
            p + "mlp.c_fc.bias": (4 * e,),
            p + "mlp.c_proj.weight": (4 * e, e),
            p + "mlp.c_proj.bias": (e,),
        }
    return dict(sorted(shapes.items()))


def compute_initial_state(config: ModelConfig, seed: int) -> dict[str, torch.Tensor]:
    """GPT-2's initialisation (normal 0.02, residual projections scaled by 1/sqrt(2 n_layer)).

    The initial weights are then *sent* as a checkpoint, never regenerated elsewhere: torch's RNG
    is not promised to be stable across versions.
    """
    if isinstance(config, llama.LlamaConfig):
        return llama.compute_initial_state(config, seed)
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in compute_param_shapes(config).items():
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            state[name] = torch.ones(shape)
        elif name.endswith(".bias"):
            state[name] = torch.zeros(shape)
        else:
            std = 0.02 / math.sqrt(2 * config.n_layer) if name.endswith("c_proj.weight") else 0.02
            state[name] = torch.randn(shape, generator=generator) * std
    return state


@dataclass(frozen=True)
class Checkpoint:
    """A model's weights (name -> float32 tensor, canonical order) and its config."""

    config: ModelConfig
    state: dict[str, torch.Tensor]
    momentum: torch.Tensor | None = None  # outer Nesterov buffer (flat, canonical order), or None
    tokenizer: bytes = b""  # a Hugging Face tokenizer.json, or empty for the byte-level vocabulary
    tokenizer_config: dict = field(default_factory=dict)  # special tokens and chat template (TOKENIZER_CONFIG_KEYS)

    def to_bytes(self) -> bytes:
        return encode_checkpoint(self)

    def build_model(self) -> TrainableModel:
        model = build_model(self.config)
        model.load_state_dict(self.state, strict=True)
        return model


def compute_header_json(header: dict) -> str:
    """Canonical JSON: sorted keys, no spaces, ASCII only."""
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def encode_checkpoint(checkpoint: Checkpoint) -> bytes:
    """Canonical safetensors bytes with the config in a one-key metadata header."""
    outer = checkpoint.momentum is not None
    header = {"format": CHECKPOINT_FORMAT_OUTER if outer else CHECKPOINT_FORMAT, "config": asdict(checkpoint.config)}
    tensors = {name: t.detach().to(torch.float32).contiguous() for name, t in checkpoint.state.items()}
    if checkpoint.tokenizer:
        header["tokenizer"] = compute_sha256(checkpoint.tokenizer).hex()
        if checkpoint.tokenizer_config:
            header["tokenizer_config"] = check_tokenizer_config(checkpoint.tokenizer_config)
        tensors[TOKENIZER_TENSOR] = torch.frombuffer(bytearray(checkpoint.tokenizer), dtype=torch.uint8)
    if checkpoint.momentum is not None:  # = outer
        tensors[MOMENTUM_TENSOR] = checkpoint.momentum.detach().to(torch.float32).contiguous()
    # One metadata key only: safetensors keeps metadata in a hash map, so a single key is what
    # makes the header bytes independent of map iteration order.
    return safetensors_save(tensors, metadata={"hashgrad": compute_header_json(header)})


def checkpoint_hash(data: bytes) -> bytes:
    """The id of a checkpoint: sha256 of its canonical bytes (recorded on chain)."""
    return compute_sha256(data)


def read_safetensors_header(data: bytes, max_bytes: int) -> dict:
    """Parse and size-check the safetensors JSON header without touching tensor data."""
    if len(data) > max_bytes:
        raise WorkError("too-large", f"{len(data)} bytes > limit {max_bytes}")
    if len(data) < 8:
        raise WorkError("bad-safetensors", "shorter than the 8-byte header length")
    header_len = int.from_bytes(data[:8], "little")
    if header_len > MAX_HEADER_BYTES or 8 + header_len > len(data):
        raise WorkError("bad-safetensors", "header length out of range (truncated?)")
    header = parse_json(data[8 : 8 + header_len], WorkError, "bad-safetensors", MAX_HEADER_BYTES)
    if not isinstance(header, dict):
        raise WorkError("bad-safetensors", "header is not an object")
    return header


def decode_safetensors(
    data: bytes, max_bytes: int, expected_format: str | tuple[str, ...]
) -> tuple[dict, dict[str, torch.Tensor]]:
    """(hashgrad header, tensors) from safetensors bytes; never unpickles anything."""
    outer = read_safetensors_header(data, max_bytes)
    meta = outer.get("__metadata__")
    if not isinstance(meta, dict) or set(meta) != {"hashgrad"} or not isinstance(meta["hashgrad"], str):
        raise WorkError("bad-header", "metadata must hold exactly one key 'hashgrad'")
    header = parse_json(meta["hashgrad"], WorkError, "bad-header", MAX_HEADER_BYTES)
    formats = (expected_format,) if isinstance(expected_format, str) else expected_format
    if not isinstance(header, dict) or header.get("format") not in formats:
        raise WorkError("bad-format", f"expected format {' or '.join(formats)}")
    try:
        tensors = safetensors_load(bytes(data))
    except Exception as exc:  # the Rust parser reports any structural fault as one of several types
        raise WorkError("bad-safetensors", f"{type(exc).__name__}: {exc}") from None
    if len(data) != 8 + int.from_bytes(data[:8], "little") + sum(
        t.numel() * t.element_size() for t in tensors.values()
    ):
        raise WorkError("bad-safetensors", "trailing or missing bytes")
    return header, tensors


def parse_config(raw: object) -> ModelConfig:
    if isinstance(raw, dict) and "model_type" in raw:
        if raw["model_type"] != llama.MODEL_TYPE or set(raw) != set(llama.LlamaConfig.__dataclass_fields__):
            raise WorkError("bad-model-config", "config fields do not match LlamaConfig")
        return llama.LlamaConfig(**raw).check()
    if not isinstance(raw, dict) or set(raw) != set(GPTConfig.__dataclass_fields__):
        raise WorkError("bad-model-config", "config fields do not match GPTConfig")
    return GPTConfig(**raw).check()


def decode_checkpoint(data: bytes, max_bytes: int = MAX_CHECKPOINT_BYTES) -> Checkpoint:
    """Validate and load checkpoint bytes: size, format, config, names, dtype, shapes, finiteness."""
    header, tensors = decode_safetensors(data, max_bytes, (CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_OUTER))
    if set(header) - {"tokenizer", "tokenizer_config"} != {"format", "config"}:
        raise WorkError("bad-header", "unexpected checkpoint header fields")
    tokenizer = check_tokenizer_tensor(header.get("tokenizer"), tensors.pop(TOKENIZER_TENSOR, None))
    tokenizer_config = check_tokenizer_config(header.get("tokenizer_config", {}))
    if tokenizer_config and not tokenizer:
        raise WorkError("bad-tokenizer", "a tokenizer_config without a tokenizer")
    config = parse_config(header["config"])
    shapes = compute_param_shapes(config)
    outer = header["format"] == CHECKPOINT_FORMAT_OUTER
    if outer:
        shapes = shapes | {MOMENTUM_TENSOR: (sum(shape_numel(shape) for shape in shapes.values()),)}
    if set(tensors) != set(shapes):
        raise WorkError("bad-tensor-names", "tensor names do not match the config and format")
    for name, shape in shapes.items():
        tensor = tensors[name]
        if tensor.dtype != torch.float32:
            raise WorkError("bad-dtype", f"{name} is {tensor.dtype}, expected float32")
        if tuple(tensor.shape) != shape:
            raise WorkError("bad-shape", f"{name} is {tuple(tensor.shape)}, expected {shape}")
        if not bool(torch.isfinite(tensor).all()):
            raise WorkError("non-finite", f"{name} holds NaN or inf")
    state = {name: tensors[name] for name in shapes if name != MOMENTUM_TENSOR}
    checkpoint = Checkpoint(config, state, tensors[MOMENTUM_TENSOR] if outer else None, tokenizer, tokenizer_config)
    if encode_checkpoint(checkpoint) != bytes(data):
        raise WorkError("non-canonical", "checkpoint bytes are not in canonical form")
    return checkpoint


def check_tokenizer_tensor(digest: object, tensor: torch.Tensor | None) -> bytes:
    """The tokenizer bytes a checkpoint carries (b"" for none), checked against the header's hash."""
    if digest is None and tensor is None:
        return b""
    if not isinstance(digest, str) or tensor is None or tensor.dtype != torch.uint8 or tensor.dim() != 1:
        raise WorkError("bad-tokenizer", "a tokenizer needs both its header hash and a 1-d uint8 tensor")
    data = tensor.numpy().tobytes()
    if not 0 < len(data) <= MAX_TOKENIZER_BYTES or compute_sha256(data).hex() != digest:
        raise WorkError("bad-tokenizer", "tokenizer bytes do not match the header's hash")
    return data


def check_tokenizer_config(raw: object) -> dict:
    """Special tokens and the chat template: known keys only, each a string (or null), size-limited."""
    if not isinstance(raw, dict) or not set(raw) <= set(TOKENIZER_CONFIG_KEYS):
        raise WorkError("bad-tokenizer-config", f"keys must be among {', '.join(TOKENIZER_CONFIG_KEYS)}")
    for key, value in raw.items():
        if not isinstance(value, str) or len(value) > MAX_TOKENIZER_CONFIG_CHARS:
            raise WorkError(
                "bad-tokenizer-config", f"{key} must be a string of at most {MAX_TOKENIZER_CONFIG_CHARS} chars"
            )
    return raw


def compute_flat(state: dict[str, torch.Tensor]) -> torch.Tensor:
    """All parameters as one float32 vector in canonical (sorted-name) order."""
    return torch.cat([state[name].reshape(-1) for name in sorted(state)])


def compute_unflat(flat: torch.Tensor, config: ModelConfig) -> dict[str, torch.Tensor]:
    state, offset = {}, 0
    for name, shape in compute_param_shapes(config).items():
        size = shape_numel(shape)
        state[name] = flat[offset : offset + size].reshape(shape).clone()
        offset += size
    return state


def compute_loss(model: TrainableModel, windows: torch.Tensor) -> torch.Tensor:
    """Per-window mean next-byte loss (nats) for windows of block_size + 1 tokens; no grad."""
    with torch.no_grad():
        logits, _ = model(windows[:, :-1])
        losses = F.cross_entropy(logits.transpose(1, 2), windows[:, 1:], reduction="none")
    return losses.mean(dim=1)
