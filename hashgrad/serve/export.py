"""Export a checkpoint as a Hugging Face `transformers` GPT-2 directory.

Our parameter names and layouts are GPT-2's (work/model.py): linear weights are stored [in, out]
exactly as GPT-2's `Conv1D` keeps them, so export only prefixes `transformer.` and writes the
config. The LM head is tied to `wte` (GPT-2's `tie_word_embeddings`), so `lm_head.weight` is
not stored, as `save_pretrained` does. The vocabulary is the 256 bytes: there is no tokenizer
file; a token is `text.encode()[i]` (the README written beside the weights shows how).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from hashgrad.errors import WorkError
from hashgrad.work.model import Checkpoint

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


def compute_hf_config(checkpoint: Checkpoint) -> dict:
    c = checkpoint.config
    return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": c.vocab_size,
            "n_positions": c.block_size, "n_ctx": c.block_size, "n_embd": c.n_embd, "n_layer": c.n_layer,
            "n_head": c.n_head, "n_inner": None, "activation_function": "gelu_new", "resid_pdrop": 0.0,
            "embd_pdrop": 0.0, "attn_pdrop": 0.0, "layer_norm_epsilon": c.layer_norm_epsilon,
            "initializer_range": 0.02, "scale_attn_weights": True, "tie_word_embeddings": True,
            "bos_token_id": None, "eos_token_id": None, "torch_dtype": "float32"}


def compute_hf_state(checkpoint: Checkpoint) -> dict[str, torch.Tensor]:
    """GPT-2 names (`transformer.h.0.attn.c_attn.weight`, ...); Conv1D weights stay [in, out]."""
    return {f"transformer.{name}": tensor.detach().to(torch.float32).contiguous()
            for name, tensor in checkpoint.state.items()}


def export_hf(checkpoint: Checkpoint, out_dir: Path, fingerprint: bytes) -> list[Path]:
    """Write config.json, model.safetensors and README.md into out_dir; returns the paths written."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise WorkError("bad-export-dir", f"{out_dir} exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    weights, config, readme = out_dir / WEIGHTS_FILE, out_dir / CONFIG_FILE, out_dir / "README.md"
    save_file(compute_hf_state(checkpoint), str(weights), metadata={"format": "pt"})
    config.write_text(json.dumps(compute_hf_config(checkpoint), indent=2) + "\n")
    readme.write_text(README.format(hash=fingerprint.hex(), dir=out_dir))
    return [config, weights, readme]
