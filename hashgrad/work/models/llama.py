"""The Llama-style family: RMSNorm, rotary positions (RoPE), SwiGLU, grouped-query attention.

Read it like nanoGPT. Parameter names and shapes are those of Hugging Face's `LlamaForCausalLM`
state dict (`model.embed_tokens`, `model.layers.N.self_attn.{q,k,v,o}_proj`,
`model.layers.N.mlp.{gate,up,down}_proj`, `model.layers.N.{input,post_attention}_layernorm`,
`model.norm`, `lm_head`; nn.Linear weights stored [out, in]), so a Hugging Face safetensors file
loads by renaming nothing. With `tie_word_embeddings` the head reuses `model.embed_tokens.weight`
and `lm_head.weight` is not a parameter (as `save_pretrained` leaves it out).

The arithmetic follows transformers' eager path step for step (RMSNorm in float32, RoPE's
rotate_half, keys/values repeated per query group, softmax in float32) and, like work/model.py,
writes attention out instead of calling a fused kernel, so the bits do not depend on which
attention backend a torch build picks (replay audits need bit-exact steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hashgrad.errors import WorkError

MODEL_TYPE = "llama"
KVCache = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class LlamaConfig:
    model_type: str = MODEL_TYPE  # the family tag a checkpoint's config is recognised by
    vocab_size: int = 256
    block_size: int = 128  # context length (transformers' max_position_embeddings)
    hidden_size: int = 128
    intermediate_size: int = 344
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2  # < num_attention_heads: grouped-query attention
    head_dim: int = 32
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = True
    bos_token_id: int | None = None
    eos_token_id: int | None = None

    def check(self) -> LlamaConfig:
        """Raise WorkError (naming the field) unless the config is sane and small enough to hold."""
        if self.model_type != MODEL_TYPE:
            raise WorkError("bad-model-config", f"model_type must be {MODEL_TYPE!r}")
        sizes = (
            "vocab_size",
            "block_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
        )
        for name in sizes:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise WorkError("bad-model-config", f"{name} must be a positive integer")
        if self.num_attention_heads % self.num_key_value_heads:
            raise WorkError("bad-model-config", "num_attention_heads must be a multiple of num_key_value_heads")
        if self.head_dim % 2:
            raise WorkError("bad-model-config", "head_dim must be even (RoPE rotates pairs)")
        if (
            self.vocab_size > 1 << 20
            or self.block_size > 1 << 16
            or self.num_hidden_layers > 256
            or max(self.hidden_size, self.intermediate_size, self.num_attention_heads * self.head_dim) > 1 << 16
        ):
            raise WorkError("bad-model-config", "config too large")
        for name in ("rms_norm_eps", "rope_theta"):
            value = getattr(self, name)
            if not isinstance(value, float) or not math.isfinite(value) or value <= 0:
                raise WorkError("bad-model-config", f"{name} must be a positive float")
        if not isinstance(self.tie_word_embeddings, bool):
            raise WorkError("bad-model-config", "tie_word_embeddings must be a boolean")
        for name in ("bos_token_id", "eos_token_id"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, int) and not isinstance(value, bool) and 0 <= value < self.vocab_size
            ):
                raise WorkError("bad-model-config", f"{name} must be null or a token id")
        return self


def compute_param_shapes(config: LlamaConfig) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape in canonical (sorted-name) order: the layout of flat vectors."""
    c, h = config, config.hidden_size
    q, kv = c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim
    shapes = {"model.embed_tokens.weight": (c.vocab_size, h), "model.norm.weight": (h,)}
    if not c.tie_word_embeddings:
        shapes["lm_head.weight"] = (c.vocab_size, h)
    for i in range(c.num_hidden_layers):
        p = f"model.layers.{i}."
        shapes |= {
            p + "input_layernorm.weight": (h,),
            p + "post_attention_layernorm.weight": (h,),
            p + "self_attn.q_proj.weight": (q, h),
            p + "self_attn.k_proj.weight": (kv, h),
            p + "self_attn.v_proj.weight": (kv, h),
            p + "self_attn.o_proj.weight": (h, q),
            p + "mlp.gate_proj.weight": (c.intermediate_size, h),
            p + "mlp.up_proj.weight": (c.intermediate_size, h),
            p + "mlp.down_proj.weight": (h, c.intermediate_size),
        }
    return dict(sorted(shapes.items()))


def compute_initial_state(config: LlamaConfig, seed: int) -> dict[str, torch.Tensor]:
    """transformers' Llama initialisation: normal(0, 0.02) for matrices, ones for the norms."""
    generator = torch.Generator().manual_seed(seed)
    return {
        name: torch.ones(shape) if name.endswith("norm.weight") else torch.randn(shape, generator=generator) * 0.02
        for name, shape in compute_param_shapes(config).items()
    }


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight, computed in float32."""

    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def compute_rope(config: LlamaConfig, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin), each (len(positions), head_dim): the rotation angles of every position."""
    d = config.head_dim
    inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float) / d))
    freqs = positions[:, None].float() * inv_freq
    angles = torch.cat((freqs, freqs), dim=-1)
    return angles.cos(), angles.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    """Causal self-attention; each key/value head serves num_attention_heads / num_key_value_heads queries."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        c = config
        self.n_head, self.n_kv, self.head_dim = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.num_attention_heads * c.head_dim, c.hidden_size, bias=False)

    def forward(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], cache: KVCache | None = None, layer: int = 0
    ) -> torch.Tensor:
        batch, length, _ = x.shape
        # (B, T, C) -> (B, heads, T, head_dim)
        q = self.q_proj(x).view(batch, length, self.n_head, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, length, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, length, self.n_kv, self.head_dim).transpose(1, 2)
        cos, sin = rope
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        if cache is not None:  # inference: keys and values of earlier positions are reused
            if layer < len(cache):
                k, v = torch.cat([cache[layer][0], k], dim=2), torch.cat([cache[layer][1], v], dim=2)
                cache[layer] = (k, v)
            else:
                cache.append((k, v))
        groups = self.n_head // self.n_kv
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        att = (q @ k.transpose(-2, -1)) * self.head_dim**-0.5
        total = k.size(2)
        causal = torch.ones(length, total, dtype=torch.bool, device=x.device).tril(diagonal=total - length)
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1, dtype=torch.float32).to(q.dtype)
        y = (att @ v).transpose(1, 2).contiguous().view(batch, length, self.n_head * self.head_dim)
        return self.o_proj(y)


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = Attention(config)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x, rope, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), rope, cache, layer)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaBody(nn.Module):
    """transformers' `LlamaModel`: embeddings, decoder layers, final norm."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)


class Llama(nn.Module):
    """`forward(idx, targets)` returns (logits, mean loss), as work/model.GPT does."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config.check()
        self.model = LlamaBody(config)
        self.lm_head = (
            None if config.tie_word_embeddings else nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        )

    def compute_logits(self, idx: torch.Tensor, start: int = 0, cache: KVCache | None = None) -> torch.Tensor:
        """Logits of tokens at positions start.. (with `cache` holding the keys/values of earlier ones)."""
        length = idx.size(1)
        if start + length > self.config.block_size:
            raise WorkError("sequence-too-long", f"{start + length} > block_size {self.config.block_size}")
        rope = compute_rope(self.config, torch.arange(start, start + length, device=idx.device))
        x = self.model.embed_tokens(idx)
        for layer, block in enumerate(self.model.layers):
            x = block(x, rope, cache, layer)
        x = self.model.norm(x)
        head = self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return x @ head.t()

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        logits = self.compute_logits(idx)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))

    def forward_cached(self, new_tokens: list[int], start: int, cache: KVCache) -> torch.Tensor:
        """Logits (len(new_tokens), vocab) at positions start.., extending `cache` in place."""
        idx = torch.tensor([new_tokens], dtype=torch.long, device=self.model.embed_tokens.weight.device)
        return self.compute_logits(idx, start, cache)[0]
