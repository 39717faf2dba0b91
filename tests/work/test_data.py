"""Pages, manifests, assignment and batch order (hashgrad.work.data)."""

from __future__ import annotations

import pytest

from hashgrad.errors import WorkError
from hashgrad.work.data import build_dataset, compute_assigned_pages, compute_batch_order, load_dataset, save_dataset

SEED, HK1, HK2 = b"\x05" * 32, b"\x01" * 32, b"\x02" * 32


def write_corpus(root, text="def f(x):\n    return x * 2\n" * 400):
    root.mkdir()
    (root / "a.py").write_text(text)
    (root / "b.txt").write_text(text.upper())
    (root / "blob.bin").write_bytes(b"\xff\xfe\x00" * 1000)  # not UTF-8: skipped
    return root


def test_any_folder_of_text_files_builds_a_dataset(tmp_path):
    root = write_corpus(tmp_path / "corpus")
    dataset = build_dataset(root, 256, suffixes=())
    assert dataset.pages.shape == (dataset.manifest["num_pages"], 256)
    only_py = build_dataset(root, 256, suffixes=(".py",))
    assert only_py.manifest_hash != dataset.manifest_hash
    assert build_dataset(root, 256, suffixes=()).manifest_hash == dataset.manifest_hash


def test_saved_dataset_loads_and_detects_corruption(tmp_path, dataset):
    manifest = save_dataset(dataset, tmp_path / "d" / "manifest.json")
    loaded = load_dataset(manifest, expected_hash=dataset.manifest_hash)
    assert (loaded.pages == dataset.pages).all()
    with pytest.raises(WorkError) as exc:
        load_dataset(manifest, expected_hash=b"\x00" * 32)
    assert exc.value.reason == "wrong-dataset"
    pages = tmp_path / "d" / "pages.bin"
    raw = bytearray(pages.read_bytes())
    raw[1000] ^= 1
    pages.write_bytes(bytes(raw))
    with pytest.raises(WorkError) as exc:
        load_dataset(manifest)
    assert exc.value.reason == "bad-page-hash"
    pages.write_bytes(bytes(raw[:-1]))
    with pytest.raises(WorkError) as exc:
        load_dataset(manifest)
    assert exc.value.reason == "bad-pages"


def test_assignment_is_deterministic_per_seed_and_hotkey_and_avoids_heldout(dataset):
    train = dataset.train_pages
    pages = compute_assigned_pages(SEED, HK1, 8, train)
    assert pages == compute_assigned_pages(SEED, HK1, 8, train)
    assert pages != compute_assigned_pages(SEED, HK2, 8, train)
    assert pages != compute_assigned_pages(b"\x06" * 32, HK1, 8, train)
    assert not set(pages) & set(dataset.heldout_pages) and len(set(pages)) == 8


def test_batch_order_covers_the_assigned_windows(dataset):
    pages = compute_assigned_pages(SEED, HK1, 2, dataset.train_pages)
    order = compute_batch_order(SEED, HK1, pages, 4, steps=5, batch_size=4)
    assert order == compute_batch_order(SEED, HK1, pages, 4, steps=5, batch_size=4)
    flat = [ref for batch in order for ref in batch]
    assert len(flat) == 20 and set(flat) == {(p, w) for p in pages for w in range(4)}
