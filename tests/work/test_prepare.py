"""`data prepare`: .txt, .jsonl and .parquet folders into content-addressed token shards and a manifest;
shards are checked by hash when read, from disk or fetched from a peer, and a bad one is refused."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from hashgrad.errors import WorkError
from hashgrad.work.data import compute_manifest_hash, load_dataset
from hashgrad.work.prepare import prepare_dataset
from hashgrad.work.shards import SHARDS_DIR
from hashgrad.work.tokenizer import END_OF_TEXT, HFCodec, compute_tokenizer_id, train_tokenizer

WORDS = "the model trains on shards fetched by hash from peers while validators score every round".split()


def make_texts(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))) + "." for _ in range(count)]


def write_jsonl(path: Path, texts: list[str], field: str = "text") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({field: t, "id": i}) + "\n" for i, t in enumerate(texts)))
    return path


@pytest.fixture(scope="module")
def tokenizer() -> bytes:
    return train_tokenizer(make_texts(50, seed=9), 300, min_frequency=1)


def test_prepare_jsonl_txt_parquet_into_shards(tmp_path, tokenizer):
    pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
    texts = make_texts(90)
    source = tmp_path / "src"
    write_jsonl(source / "a.jsonl", texts[:30])
    (source / "b.txt").write_text("\n".join(texts[30:60]))
    pq.write_table(pa.table({"text": texts[60:]}), source / "c.parquet")
    (source / "ignored.bin").write_bytes(b"\x00" * 100)
    manifest = prepare_dataset(source, tmp_path / "out", tokenizer, page_tokens=64, shard_pages=4)
    assert manifest["tokenizer"] == compute_tokenizer_id(tokenizer) and manifest["token_bytes"] == 2
    assert len(manifest["shards"]) == -(-manifest["num_pages"] // 4) >= 2 and manifest["heldout"]
    dataset = load_dataset(tmp_path / "out" / "manifest.json")
    codec = HFCodec(tokenizer)
    eos = codec.token_to_id(END_OF_TEXT)
    expected = []
    for t in texts[:30]:
        expected += codec.encode(t) + [eos]
    expected += codec.encode("\n".join(texts[30:60])) + [eos]
    first = np.concatenate([dataset.pages[p] for p in range(3)])
    assert first.tolist() == expected[: len(first)]
    for path in (tmp_path / "out" / SHARDS_DIR).iterdir():  # content-addressed: the name is the sha256
        assert __import__("hashlib").sha256(path.read_bytes()).hexdigest() == path.name
    again = prepare_dataset(source, tmp_path / "again", tokenizer, page_tokens=64, shard_pages=4)
    assert compute_manifest_hash(again) == compute_manifest_hash(manifest)


def test_byte_level_prepare_matches_the_utf8_bytes(tmp_path):
    texts = make_texts(40)
    write_jsonl(tmp_path / "d.jsonl", texts, field="body")
    manifest = prepare_dataset(
        tmp_path / "d.jsonl", tmp_path / "out", b"", page_tokens=128, shard_pages=2, field="body"
    )
    assert manifest["tokenizer"] == "bytes" and manifest["token_bytes"] == 1
    dataset = load_dataset(tmp_path / "out" / "manifest.json")
    assert bytes(dataset.pages[0].tolist()) == "\n".join(texts).encode()[:128]


def test_bad_record_names_file_and_line(tmp_path):
    (tmp_path / "d.jsonl").write_text(json.dumps({"text": "fine"}) + "\n" + json.dumps({"body": "no text"}) + "\n")
    with pytest.raises(WorkError) as info:
        prepare_dataset(tmp_path / "d.jsonl", tmp_path / "out", b"", page_tokens=16, shard_pages=2)
    assert info.value.reason == "bad-record" and "d.jsonl:2" in str(info.value)


def test_missing_shards_fetched_by_hash_and_a_bad_one_refused(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", make_texts(40))
    manifest = prepare_dataset(tmp_path / "d.jsonl", tmp_path / "peer", b"", page_tokens=256, shard_pages=4)
    miner = tmp_path / "miner"
    miner.mkdir()
    (miner / "manifest.json").write_text((tmp_path / "peer" / "manifest.json").read_text())
    store = {bytes.fromhex(h): (tmp_path / "peer" / SHARDS_DIR / h).read_bytes() for h in manifest["shards"]}
    asked = []

    def fetch(digest: bytes) -> bytes:
        asked.append(digest.hex())
        return store[digest]

    dataset = load_dataset(miner / "manifest.json", fetch=fetch)
    assert dataset.pages[5].tolist() == load_dataset(tmp_path / "peer" / "manifest.json").pages[5].tolist()
    assert asked == [manifest["shards"][1]]  # only the shard holding page 5
    assert (miner / SHARDS_DIR / manifest["shards"][1]).is_file()
    liar = load_dataset(miner / "manifest.json", fetch=lambda digest: store[digest][:-1] + b"x")
    with pytest.raises(WorkError) as info:
        liar.pages[0]
    assert info.value.reason == "bad-shard-hash"
    assert not (miner / SHARDS_DIR / manifest["shards"][0]).exists()  # refused, never stored
    with pytest.raises(WorkError) as info:
        load_dataset(miner / "manifest.json").pages[0]
    assert info.value.reason == "missing-shard"


def test_cli_tokenizer_train_then_prepare(tmp_path, capsys):
    from hashgrad.cli.main import main

    write_jsonl(tmp_path / "d.jsonl", make_texts(60))
    assert (
        main(
            [
                "data",
                "tokenizer",
                "train",
                str(tmp_path / "d.jsonl"),
                "--vocab-size",
                "300",
                "--out",
                str(tmp_path / "tok.json"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "data",
                "prepare",
                str(tmp_path / "d.jsonl"),
                "--tokenizer",
                str(tmp_path / "tok.json"),
                "--out",
                str(tmp_path / "ds"),
                "--page-tokens",
                "64",
                "--shard-pages",
                "4",
                "--no-progress",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["tokenizer"] == compute_tokenizer_id((tmp_path / "tok.json").read_bytes())
    assert load_dataset(tmp_path / "ds" / "manifest.json").manifest["num_pages"] == summary["pages"]


def test_a_dataset_cut_by_another_tokenizer_is_refused(tmp_path, tokenizer, params):
    from hashgrad.work.job_model import compute_job_params
    from hashgrad.work.model import Checkpoint, compute_initial_state

    write_jsonl(tmp_path / "d.jsonl", make_texts(40))
    prepare_dataset(tmp_path / "d.jsonl", tmp_path / "bytes", b"", page_tokens=64, shard_pages=4)
    byte_level = load_dataset(tmp_path / "bytes" / "manifest.json")
    checkpoint = Checkpoint(params.model, compute_initial_state(params.model, 0), tokenizer=tokenizer)
    with pytest.raises(WorkError) as info:
        compute_job_params(params, checkpoint, byte_level)
    assert info.value.reason == "wrong-tokenizer"
    plain = Checkpoint(params.model, compute_initial_state(params.model, 0))
    assert compute_job_params(params, plain, byte_level).page_tokens == 64
