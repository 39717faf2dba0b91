"""The real public test data in `tests/data/` (see its README for each file's source).

Large files are stored gzip-compressed as `NAME.gz`; `read_data(NAME)` returns the original bytes either
way, and `data_path(NAME)` the file as stored (the `hashgrad btc` commands read `.gz` files as they are).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"


def data_path(name: str) -> Path:
    """The stored file for `name`: `name` itself, or `name.gz` when it is kept compressed."""
    plain = DATA_DIR / name
    if plain.exists():
        return plain
    packed = DATA_DIR / f"{name}.gz"
    if packed.exists():
        return packed
    raise FileNotFoundError(f"no test data file {name} in {DATA_DIR}")


def read_data(name: str) -> bytes:
    path = data_path(name)
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def read_json(name: str) -> Any:
    return json.loads(read_data(name))
