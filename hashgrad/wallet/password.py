"""Where a wallet password comes from, in order: `--password-file FILE` (its first line),
`HASHGRAD_PASSWORD` (for scripts), else an interactive prompt (asked twice for a new password).

Passwords are returned, never printed or logged. A password file is read with a size limit and only
its first line counts (without the line ending), so `echo secret > file` works as expected.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from pathlib import Path

from hashgrad.errors import WalletError
from hashgrad.wallet.keystore import MAX_PASSWORD_BYTES

PASSWORD_ENV = "HASHGRAD_PASSWORD"


def read_password_file(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PASSWORD_BYTES + 2)
    except OSError as exc:
        raise WalletError("bad-password-file", f"cannot read {path}: {exc.strerror}") from None
    first_line = data.split(b"\n", 1)[0].removesuffix(b"\r")
    if len(first_line) > MAX_PASSWORD_BYTES:
        raise WalletError("bad-password-file", f"a password is at most {MAX_PASSWORD_BYTES} bytes")
    try:
        return first_line.decode("utf-8")
    except UnicodeDecodeError:
        raise WalletError("bad-password-file", f"{path} is not UTF-8") from None


def get_password(
    password_file: Path | None, *, confirm: bool, environ=os.environ, prompt: Callable[[str], str] | None = None
) -> str:
    """The password for a command; with `confirm`, a prompted password is asked twice and must match."""
    if password_file is not None:
        return read_password_file(password_file)
    if environ.get(PASSWORD_ENV):
        return environ[PASSWORD_ENV]
    prompt = prompt or getpass.getpass
    first = prompt("Wallet password: ")
    if confirm and prompt("Repeat password: ") != first:
        raise WalletError("password-mismatch", "the two passwords differ")
    return first
