"""Tiny random Hugging Face models made with transformers inside the tests (no download): a Llama with
grouped-query attention, and a GPT-2, each saved with save_pretrained and a small trained BPE."""

from __future__ import annotations

from pathlib import Path

import torch

from hashgrad.work.tokenizer import train_tokenizer

TEXTS = [
    "def main():\n    return fibonacci(10)\n",
    "the quick brown fox jumps over the lazy dog\n",
    "import os\nprint(os.getcwd())\n",
    "Hugging Face in, Hugging Face out.\n",
] * 20
VOCAB = 320
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|endoftext|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def make_tokenizer() -> bytes:
    return train_tokenizer(TEXTS, VOCAB, min_frequency=1)


def make_llama(folder: Path, tied: bool = False, seed: int = 0, **overrides):
    """A 2-layer Llama, 4 query heads sharing 2 key/value heads, saved with its tokenizer."""
    import transformers

    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        **{
            "vocab_size": VOCAB,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 64,
            "tie_word_embeddings": tied,
            "bos_token_id": None,
            "eos_token_id": 0,
            "pad_token_id": None,
        }
        | overrides
    )
    model = transformers.LlamaForCausalLM(config).eval()
    model.save_pretrained(folder)
    write_tokenizer(folder)
    return model


def make_gpt2(folder: Path, seed: int = 0):
    import transformers

    torch.manual_seed(seed)
    config = transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    model.save_pretrained(folder)
    write_tokenizer(folder)
    return model


def write_tokenizer(folder: Path) -> None:
    import json

    (folder / "tokenizer.json").write_bytes(make_tokenizer())
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {"eos_token": "<|endoftext|>", "chat_template": CHAT_TEMPLATE, "tokenizer_class": "PreTrainedTokenizerFast"}
        )
    )
