"""An imported Llama with its tokenizer and chat template, served by a real `hashgrad serve miner`
process: the `openai` client's chat.completions and completions calls get the tokens our engine
(and transformers) compute, with the prompt rendered by the tokenizer's chat template."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from hashgrad.serve.codec import build_serve_codec
from hashgrad.serve.engine import Engine, SamplingParams
from hashgrad.work.hf_import import import_hf
from hashgrad.work.model import decode_checkpoint
from tests.work.hf_models import make_llama

openai = pytest.importorskip("openai")
transformers = pytest.importorskip("transformers")
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "def main():"}]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("chat")
    hf = make_llama(root / "hf")
    data = import_hf(root / "hf").to_bytes()
    (root / "llama.safetensors").write_bytes(data)
    return root, hf, decode_checkpoint(data)


@pytest.fixture(scope="module")
def server(imported):
    root, _, _ = imported
    port_file = root / "port"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hashgrad",
            "serve",
            "miner",
            "--checkpoint",
            str(root / "llama.safetensors"),
            "--open",
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text().endswith("\n")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"server did not start: {process.stderr.read()}")
        time.sleep(0.1)
    yield f"http://127.0.0.1:{int(port_file.read_text())}"
    process.terminate()
    process.wait(timeout=30)


def test_chat_template_renders_like_transformers(imported):
    root, _, checkpoint = imported
    theirs = transformers.AutoTokenizer.from_pretrained(root / "hf").apply_chat_template(
        MESSAGES, add_generation_prompt=True, tokenize=False
    )
    assert (
        build_serve_codec(checkpoint).render_chat(MESSAGES)
        == theirs
        == ("<|system|>Be brief.<|endoftext|><|user|>def main():<|endoftext|><|assistant|>")
    )


def test_openai_chat_completions_against_a_server_process(imported, server):
    root, hf, checkpoint = imported
    client = openai.OpenAI(base_url=server + "/v1", api_key="unused")
    model = client.models.list().data[0].id
    reply = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=8, temperature=0)
    engine = Engine(checkpoint)
    prompt = engine.codec.encode(engine.codec.render_chat(MESSAGES))
    expected = engine.generate(prompt, 8, SamplingParams())
    assert reply.choices[0].message.content == engine.codec.decode(expected.tokens)
    assert reply.usage.prompt_tokens == len(prompt) and reply.usage.completion_tokens == 8
    sequence = list(prompt + expected.tokens)
    with torch.no_grad():  # transformers computes the logits the served tokens were chosen from (a random model's
        theirs = hf(torch.tensor([sequence])).logits[0].double().numpy()  # near-ties make greedy text fragile)
    assert abs(theirs - engine.compute_logits(sequence)).max() <= 1e-5
    streamed = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=8, temperature=0, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == reply.choices[0].message.content
    completion = client.completions.create(model=model, prompt="import os", max_tokens=5, temperature=0)
    assert completion.choices[0].text == engine.codec.decode(
        engine.generate(engine.codec.encode("import os"), 5, SamplingParams()).tokens
    )
