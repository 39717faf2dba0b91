#!/usr/bin/env python3
"""Set-up and entry point for a fresh machine: only Python >= 3.11 is needed.

    python3 dev.py demo [ARGS...]   create/reuse .venv, install hashgrad, run the local devnet demo
    python3 dev.py test [ARGS...]   create/reuse .venv, install hashgrad with test extras, run the tests

The virtual environment is reused while pyproject.toml is unchanged (a stamp file holds its hash).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".hashgrad-installed"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def compute_install_key(extras: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{digest}:{extras}"


def ensure_venv(extras: str) -> Path:
    if sys.version_info < (3, 11):  # noqa: UP036 (this script runs under any python3, to say so)
        sys.exit(f"hashgrad needs Python >= 3.11, this is {sys.version.split()[0]}")
    if not venv_python().exists():
        print(f"[dev] creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    key = compute_install_key(extras)
    installed = STAMP.read_text().split() if STAMP.exists() else []
    if key not in installed:
        target = f".[{extras}]" if extras else "."
        print(f"[dev] installing hashgrad{('[' + extras + ']') if extras else ''} into .venv", flush=True)
        subprocess.run([str(venv_python()), "-m", "pip", "install", "-q", "--upgrade", "pip"], cwd=ROOT, check=False)
        subprocess.run([str(venv_python()), "-m", "pip", "install", "-q", "-e", target], cwd=ROOT, check=True)
        STAMP.write_text("\n".join(installed + [key]))
    return venv_python()


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "demo"
    rest = argv[1:]
    if command == "demo":
        python = ensure_venv("")
        return subprocess.call([str(python), "-m", "hashgrad", "devnet", *rest], cwd=ROOT)
    if command == "test":
        python = ensure_venv("test")
        code = subprocess.call([str(python), "-m", "pytest", "-q", *rest], cwd=ROOT)
        return 0 if code == 5 and rest else code
    sys.exit(f"usage: python3 dev.py demo|test [ARGS...] (got {command!r})")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
