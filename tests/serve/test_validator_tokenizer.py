"""The inference validator challenges a model that has a tokenizer: prompts cut from the held-out text
of a token dataset, sent as token ids; honest servers verify, cheating ones score nothing."""

from __future__ import annotations

from hashgrad.chain.keys import SigningKey
from hashgrad.serve.adversaries import build_backend
from hashgrad.serve.server import BackgroundServer, InferenceServer, ServerConfig
from hashgrad.serve.validator import MinerEndpoint, compute_challenges, get_heldout_texts, run_validation_round_blocking
from hashgrad.work.data import load_dataset
from hashgrad.work.hf_import import import_hf
from hashgrad.work.prepare import prepare_dataset
from tests.work.hf_models import make_llama
from tests.work.test_prepare import make_texts, write_jsonl

VALIDATOR = SigningKey(bytes([3]) * 32)


def test_round_with_a_tokenizer_pays_honest_servers_only(tmp_path):
    make_llama(tmp_path / "hf")
    checkpoint = import_hf(tmp_path / "hf")
    write_jsonl(tmp_path / "d.jsonl", make_texts(200))
    prepare_dataset(tmp_path / "d.jsonl", tmp_path / "ds", checkpoint.tokenizer, page_tokens=256, shard_pages=4)
    engine = build_backend("honest", checkpoint)
    texts = get_heldout_texts(load_dataset(tmp_path / "ds" / "manifest.json"), engine.codec)
    assert texts and all(b"\xef\xbf\xbd" not in t for t in texts)  # real text, decoded by the tokenizer
    challenge = compute_challenges(bytes(32), texts, 1, engine.context, engine.codec)[0]
    assert challenge.as_token_ids and max(challenge.prompt) < engine.codec.vocab_size
    kinds = ["honest", "honest", "other-model", "random"]
    servers, miners = [], []
    try:
        for uid, kind in enumerate(kinds):
            hotkey = SigningKey((uid + 1).to_bytes(32, "big"))
            config = ServerConfig(hotkey=hotkey.pubkey, allowed=frozenset({VALIDATOR.pubkey}))
            servers.append(BackgroundServer(InferenceServer(build_backend(kind, checkpoint), config)).start())
            miners.append(MinerEndpoint(uid, servers[-1].url, hotkey.pubkey))
        report = run_validation_round_blocking(miners, engine, VALIDATOR, bytes(32), texts, 3)
    finally:
        for server in servers:
            server.stop()
    assert all(o.is_ok for uid in (0, 1) for o in report.outcomes[uid]), report.outcomes
    assert set(dict(report.weights)) == {0, 1}
    assert report.scores[2] == 0.0 and report.scores[3] == 0.0
