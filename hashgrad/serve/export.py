"""Export a checkpoint as a Hugging Face `transformers` directory (GPT-2 or Llama, by its family).

Our parameter names and layouts are transformers' (work/model.py for GPT-2, work/models/llama.py
for Llama): GPT-2 weights only gain the `transformer.` prefix (linear weights stay [in, out], as
GPT-2's `Conv1D` keeps them); Llama names are already `LlamaForCausalLM`'s. A tied head is not
stored, as `save_pretrained` does. A checkpoint that carries a tokenizer gets its tokenizer.json
(the same bytes) and a tokenizer_config.json (special tokens, chat template), so `AutoTokenizer`
loads it; a byte-level checkpoint has no tokenizer file: a token is `text.encode()[i]`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from hashgrad.errors import WorkError
from hashgrad.work.model import Checkpoint, GPTConfig

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
README = """# hashgrad checkpoint {hash}

A byte-level GPT-2 (vocabulary = the 256 byte values) trained by the hashgrad network.

```python
import torch
from transformers import GPT2LMHeadModel
model = GPT2LMHeadModel.from_pretrained("{dir}")
ids = torch.tensor([list("def main():".encode())])
out = model.generate(ids, max_new_tokens=40, do_sample=False, pad_token_id=0)
print(bytes(out[0].tolist()).decode("utf-8", errors="replace"))
```
"""
README_TOKENIZER = """# hashgrad checkpoint {hash}

A {family} model trained by the hashgrad network, with its tokenizer.

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained("{dir}")
tokenizer = AutoTokenizer.from_pretrained("{dir}")
ids = tokenizer("def main():", return_tensors="pt").input_ids
print(tokenizer.decode(model.generate(ids, max_new_tokens=40, do_sample=False)[0]))
```
"""


def compute_gpt2_config(c: GPTConfig) -> dict:
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": c.vocab_size,
        "n_positions": c.block_size,
        "n_ctx": c.block_size,
        "n_embd": c.n_embd,
        "n_layer": c.n_layer,
        "n_head": c.n_head,
        "n_inner": None,
        "activation_function": "gelu_new",
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "layer_norm_epsilon": c.layer_norm_epsilon,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "tie_word_embeddings": True,
        "bos_token_id": None,
        "eos_token_id": None,
        "torch_dtype": "float32",
    }


def compute_llama_config(c) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": c.vocab_size,
        "max_position_embeddings": c.block_size,
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_hidden_layers,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads,
        "head_dim": c.head_dim,
        "hidden_act": "silu",
        "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": c.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": c.rope_theta},
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "attention_dropout": 0.0,
        "pretraining_tp": 1,
        "tie_word_embeddings": c.tie_word_embeddings,
        "initializer_range": 0.02,
        "bos_token_id": c.bos_token_id,
        "eos_token_id": c.eos_token_id,
        "torch_dtype": "float32",
    }


def compute_hf_config(checkpoint: Checkpoint) -> dict:
    config = checkpoint.config
    return compute_gpt2_config(config) if isinstance(config, GPTConfig) else compute_llama_config(config)


def compute_hf_state(checkpoint: Checkpoint) -> dict[str, torch.Tensor]:
    """transformers' names (`transformer.h.0.attn.c_attn.weight`, `model.layers.0.self_attn.q_proj.weight`)."""
    prefix = "transformer." if isinstance(checkpoint.config, GPTConfig) else ""
    return {
        f"{prefix}{name}": tensor.detach().to(torch.float32).contiguous() for name, tensor in checkpoint.state.items()
    }


def compute_tokenizer_config(checkpoint: Checkpoint) -> dict:
    """tokenizer_config.json: a plain fast tokenizer over tokenizer.json, with the special tokens and chat template."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": checkpoint.config.block_size,
        "clean_up_tokenization_spaces": False,
        **checkpoint.tokenizer_config,
    }


def export_hf(checkpoint: Checkpoint, out_dir: Path, fingerprint: bytes) -> list[Path]:
    """Write config.json, model.safetensors, README.md (and the tokenizer files) into out_dir; returns the paths."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise WorkError("bad-export-dir", f"{out_dir} exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    weights, config, readme = out_dir / WEIGHTS_FILE, out_dir / CONFIG_FILE, out_dir / "README.md"
    save_file(compute_hf_state(checkpoint), str(weights), metadata={"format": "pt"})
    config.write_text(json.dumps(compute_hf_config(checkpoint), indent=2) + "\n")
    written = [config, weights, readme]
    if checkpoint.tokenizer:
        family = "GPT-2" if isinstance(checkpoint.config, GPTConfig) else "Llama-style"
        readme.write_text(README_TOKENIZER.format(hash=fingerprint.hex(), dir=out_dir, family=family))
        (out_dir / "tokenizer.json").write_bytes(checkpoint.tokenizer)
        (out_dir / "tokenizer_config.json").write_text(
            json.dumps(compute_tokenizer_config(checkpoint), indent=2) + "\n"
        )
        written += [out_dir / "tokenizer.json", out_dir / "tokenizer_config.json"]
    else:
        readme.write_text(README.format(hash=fingerprint.hex(), dir=out_dir))
    return written
