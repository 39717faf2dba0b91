"""Import a Hugging Face model folder as a genesis checkpoint (the inverse of serve/export.py).

    config.json                          -> the family's config (GPT-2 or Llama), every field checked
    model.safetensors                    -> the weights, by the names transformers uses
      or model.safetensors.index.json + its shards
    tokenizer.json (+ tokenizer_config.json) -> the tokenizer the checkpoint carries (optional:
                                            without it the model must be byte-level, vocab 256)

Only safetensors are read (never pytorch_model.bin: that is a pickle). Every file is size-limited;
a config this code cannot reproduce exactly (another activation, RoPE scaling, biases where the
family has none, untied GPT-2 heads...) raises `unsupported-config` naming the field, rather than
importing a model whose logits would differ from transformers'. Half-precision weights are widened
to float32 (exactly); float32 weights come through bit for bit.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open

from hashgrad.errors import WorkError
from hashgrad.work.model import (
    MAX_CHECKPOINT_BYTES,
    MAX_TOKENIZER_BYTES,
    TOKENIZER_CONFIG_KEYS,
    Checkpoint,
    GPTConfig,
    ModelConfig,
    check_tokenizer_config,
    compute_param_shapes,
)
from hashgrad.work.models.llama import LlamaConfig
from hashgrad.work.tokenizer import load_tokenizer

MAX_JSON_BYTES = 4 * 1024 * 1024
WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def read_json_file(path: Path, max_bytes: int = MAX_JSON_BYTES) -> dict:
    try:
        if path.stat().st_size > max_bytes:
            raise WorkError("too-large", f"{path.name} exceeds {max_bytes} bytes")
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkError("missing-file", f"{path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkError("bad-json", f"{path.name}: {exc}") from None
    if not isinstance(value, dict):
        raise WorkError("bad-json", f"{path.name} is not a JSON object")
    return value


def require(raw: dict, field: str, allowed, default=None):
    """raw[field] (or default when absent) if it is among `allowed`, else unsupported-config naming it."""
    value = raw.get(field, default)
    if value not in allowed:
        raise WorkError("unsupported-config", f"{field}={value!r}: supported {list(allowed)!r}")
    return value


def get_int(raw: dict, field: str, default=None) -> int:
    value = raw.get(field, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise WorkError("unsupported-config", f"{field}={value!r}: an integer is required")
    return value


def get_float(raw: dict, field: str, default=None) -> float:
    value = raw.get(field, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise WorkError("unsupported-config", f"{field}={value!r}: a number is required")
    return float(value)


def get_token_id(raw: dict, field: str) -> int | None:
    value = raw.get(field)
    if isinstance(value, list) and len(value) == 1:  # some configs list a single eos id
        value = value[0]
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < raw["vocab_size"] else None


def compute_llama_config(raw: dict) -> LlamaConfig:
    require(raw, "hidden_act", ("silu",), "silu")
    require(raw, "attention_bias", (False,), False)
    require(raw, "mlp_bias", (False,), False)
    require(raw, "pretraining_tp", (1,), 1)
    require(raw, "rope_scaling", (None,), None)
    rope = raw.get("rope_parameters") or {}
    if not isinstance(rope, dict):
        raise WorkError("unsupported-config", "rope_parameters must be an object")
    require(rope, "rope_type", ("default",), "default")
    theta = get_float(rope, "rope_theta", raw.get("rope_theta", 10000.0))
    heads = get_int(raw, "num_attention_heads")
    hidden = get_int(raw, "hidden_size")
    head_dim = raw.get("head_dim") or (hidden // heads if heads else 0)
    return LlamaConfig(
        vocab_size=get_int(raw, "vocab_size"),
        block_size=get_int(raw, "max_position_embeddings"),
        hidden_size=hidden,
        intermediate_size=get_int(raw, "intermediate_size"),
        num_hidden_layers=get_int(raw, "num_hidden_layers"),
        num_attention_heads=heads,
        num_key_value_heads=get_int(raw, "num_key_value_heads", heads),
        head_dim=head_dim,
        rms_norm_eps=get_float(raw, "rms_norm_eps", 1e-6),
        rope_theta=theta,
        tie_word_embeddings=require(raw, "tie_word_embeddings", (True, False), False),
        bos_token_id=get_token_id(raw, "bos_token_id"),
        eos_token_id=get_token_id(raw, "eos_token_id"),
    ).check()


def compute_gpt2_config(raw: dict) -> GPTConfig:
    require(raw, "activation_function", ("gelu_new",), "gelu_new")
    require(raw, "tie_word_embeddings", (True,), True)
    require(raw, "scale_attn_weights", (True,), True)
    require(raw, "scale_attn_by_inverse_layer_idx", (False,), False)
    require(raw, "reorder_and_upcast_attn", (False,), False)
    require(raw, "add_cross_attention", (False,), False)
    n_embd = get_int(raw, "n_embd", 768)
    require(raw, "n_inner", (None, 4 * n_embd), None)
    return GPTConfig(
        vocab_size=get_int(raw, "vocab_size"),
        block_size=get_int(raw, "n_positions", 1024),
        n_layer=get_int(raw, "n_layer", 12),
        n_head=get_int(raw, "n_head", 12),
        n_embd=n_embd,
        layer_norm_epsilon=get_float(raw, "layer_norm_epsilon", 1e-5),
    ).check()


def compute_config(raw: dict) -> ModelConfig:
    """Our config for a transformers config.json, or unsupported-config naming the field."""
    family = require(raw, "model_type", ("llama", "gpt2"))
    return compute_llama_config(raw) if family == "llama" else compute_gpt2_config(raw)


def get_weight_files(folder: Path) -> list[Path]:
    if (folder / WEIGHTS_FILE).is_file():
        return [folder / WEIGHTS_FILE]
    if (folder / INDEX_FILE).is_file():
        weight_map = read_json_file(folder / INDEX_FILE).get("weight_map")
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise WorkError("bad-json", f"{INDEX_FILE} has no weight_map of file names")
        names = sorted(set(weight_map.values()))
        if any(Path(name).name != name or not name.endswith(".safetensors") for name in names):
            raise WorkError("bad-json", f"{INDEX_FILE} names a file outside the folder or not safetensors")
        return [folder / name for name in names]
    raise WorkError(
        "missing-file", f"{folder} holds neither {WEIGHTS_FILE} nor {INDEX_FILE} (only safetensors are read)"
    )


def compute_our_name(name: str, config: ModelConfig) -> str | None:
    """Our parameter name for a transformers tensor name, or None for what we do not store
    (GPT-2's causal-mask buffers, a tied head, RoPE's inverse frequencies)."""
    if isinstance(config, GPTConfig):
        name = name.removeprefix("transformer.")
        if name == "lm_head.weight" or name.endswith((".attn.bias", ".attn.masked_bias")):
            return None
    elif name.endswith("rotary_emb.inv_freq") or (name == "lm_head.weight" and config.tie_word_embeddings):
        return None
    return name


def read_weights(folder: Path, config: ModelConfig) -> dict[str, torch.Tensor]:
    shapes = compute_param_shapes(config)
    state, total = {}, 0
    for path in get_weight_files(folder):
        total += path.stat().st_size
        if total > MAX_CHECKPOINT_BYTES:
            raise WorkError("too-large", f"weights exceed {MAX_CHECKPOINT_BYTES} bytes")
        try:
            with safe_open(str(path), framework="pt") as handle:
                for name in handle.keys():
                    ours = compute_our_name(name, config)
                    if ours is None:
                        continue
                    if ours not in shapes or ours in state:
                        raise WorkError("bad-tensor-names", f"unexpected or repeated tensor {name}")
                    tensor = handle.get_tensor(name)
                    if tensor.dtype not in FLOAT_DTYPES or tuple(tensor.shape) != shapes[ours]:
                        raise WorkError(
                            "bad-shape",
                            f"{name} is {tensor.dtype} {tuple(tensor.shape)}, expected a float tensor {shapes[ours]}",
                        )
                    state[ours] = tensor.to(torch.float32).contiguous()
        except WorkError:
            raise
        except Exception as exc:  # the Rust parser reports faults as several exception types
            raise WorkError("bad-safetensors", f"{path.name}: {type(exc).__name__}: {exc}") from None
    missing = sorted(set(shapes) - set(state))
    if missing:
        raise WorkError("bad-tensor-names", f"missing tensors: {', '.join(missing[:5])}")
    return dict(sorted(state.items()))


def get_token_string(value) -> str | None:
    if isinstance(value, dict):  # an AddedToken written out
        value = value.get("content")
    return value if isinstance(value, str) else None


def read_tokenizer(folder: Path, config: ModelConfig) -> tuple[bytes, dict]:
    """(tokenizer.json bytes, the tokenizer_config subset we keep); (b"", {}) for byte-level."""
    path = folder / "tokenizer.json"
    if not path.is_file():
        if config.vocab_size != 256:
            raise WorkError("missing-file", f"no tokenizer.json, and vocab_size {config.vocab_size} is not byte-level")
        return b"", {}
    if path.stat().st_size > MAX_TOKENIZER_BYTES:
        raise WorkError("too-large", f"tokenizer.json exceeds {MAX_TOKENIZER_BYTES} bytes")
    data = path.read_bytes()
    if load_tokenizer(data).get_vocab_size() > config.vocab_size:
        raise WorkError("bad-tokenizer", "the tokenizer's vocabulary is larger than the model's vocab_size")
    extra = read_json_file(folder / "tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
    kept = {key: get_token_string(extra.get(key)) for key in TOKENIZER_CONFIG_KEYS}
    return data, check_tokenizer_config({k: v for k, v in kept.items() if v is not None})


def import_hf(folder: Path) -> Checkpoint:
    """A genesis checkpoint (weights, config, tokenizer) from a Hugging Face model folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WorkError("missing-file", f"{folder} is not a directory")
    config = compute_config(read_json_file(folder / "config.json"))
    state = read_weights(folder, config)
    for name, tensor in state.items():
        if not bool(torch.isfinite(tensor).all()):
            raise WorkError("non-finite", f"{name} holds NaN or inf")
    tokenizer, tokenizer_config = read_tokenizer(folder, config)
    return Checkpoint(config, state, None, tokenizer, tokenizer_config)
