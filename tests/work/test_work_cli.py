"""`hashgrad work ...` shells (hashgrad.cli.work_cmd)."""

from __future__ import annotations

import json

from hashgrad.cli.main import main
from hashgrad.work.data import save_dataset


def test_dataset_build_and_check(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.py").write_text("print('hello world')\n" * 3000)
    assert (
        main(["work", "dataset", "build", str(corpus), "--out", str(tmp_path / "d" / "m.json"), "--preset", "tiny"])
        == 0
    )
    built = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["work", "dataset", "check", str(tmp_path / "d" / "m.json")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == built
    assert (tmp_path / "d" / "pages.bin").stat().st_size == built["pages"] * built["page_tokens"]


def test_simulate_prints_epochs_and_ends_with_json(tmp_path, capsys, dataset):
    manifest = save_dataset(dataset, tmp_path / "manifest.json")
    code = main(
        [
            "work",
            "simulate",
            "--preset",
            "tiny",
            "--miners",
            "3",
            "--adversaries",
            "lazy,copycat",
            "--epochs",
            "2",
            "--dataset",
            str(manifest),
        ]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and sum(line.startswith("epoch ") for line in lines) == 3
    result = json.loads(lines[-1])
    assert result["honest_share"] > 0.99 and len(result["epochs"]) == 2


def test_simulate_rejects_unknown_kinds(capsys):
    assert main(["work", "simulate", "--adversaries", "gremlin"]) == 1
    assert "bad-arguments" in capsys.readouterr().err
