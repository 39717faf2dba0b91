"""Where wallets live and how their files are written so that nothing stored is ever lost.

Wallets are `$HASHGRAD_HOME/wallets/<NAME>.json` (`HASHGRAD_HOME` defaults to `~/.hashgrad`); the
folder is created 0700 and every file 0600. A write goes to a temporary file in the same folder,
is fsynced, then renamed over (or, for a new wallet, hard-linked to) its final name and the folder
fsynced: a crash or a failed command leaves either the old file or the new one, never half of one,
and creating a wallet never overwrites an existing one. Changes to existing wallets (adding a
hotkey) hold an exclusive lock on `wallets/.lock`, so two commands cannot drop each other's keys.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from hashgrad.errors import WalletError

HOME_ENV = "HASHGRAD_HOME"
WALLETS_FOLDER = "wallets"
WALLET_SUFFIX = ".json"
LOCK_NAME = ".lock"
MAX_WALLET_FILE_BYTES = 1024 * 1024
FILE_MODE = 0o600
FOLDER_MODE = 0o700
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", re.ASCII)


def get_home(environ=os.environ) -> Path:
    """hashgrad's home folder: `$HASHGRAD_HOME`, else `~/.hashgrad`."""
    value = environ.get(HOME_ENV)
    return Path(value).expanduser() if value else Path.home() / ".hashgrad"


def get_wallets_dir(home: Path) -> Path:
    return home / WALLETS_FOLDER


def check_name(name: str, what: str = "wallet") -> str:
    """A wallet or hotkey name: 1-64 ASCII letters, digits, `_ . -`, starting with a letter or digit."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise WalletError(
            f"bad-{what}-name", f"{what} names are 1-64 of A-Z a-z 0-9 _ . - starting with a letter or digit"
        )
    return name


def get_wallet_path(home: Path, name: str) -> Path:
    return get_wallets_dir(home) / (check_name(name) + WALLET_SUFFIX)


def list_wallet_names(home: Path) -> list[str]:
    folder = get_wallets_dir(home)
    if not folder.is_dir():
        return []
    names = (p.name[: -len(WALLET_SUFFIX)] for p in folder.iterdir() if p.name.endswith(WALLET_SUFFIX))
    return sorted(n for n in names if _NAME_RE.fullmatch(n))


def read_wallet_bytes(path: Path) -> bytes:
    """The bytes of a wallet file, at most 1 MiB; unknown-wallet if there is none."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_WALLET_FILE_BYTES + 1)
    except FileNotFoundError:
        raise WalletError("unknown-wallet", f"no wallet file {path}") from None
    if len(data) > MAX_WALLET_FILE_BYTES:
        raise WalletError("corrupt-wallet", f"{path} is larger than {MAX_WALLET_FILE_BYTES} bytes")
    return data


def write_new_file(path: Path, data: bytes) -> None:
    """Store a file that must not exist yet (wallet-exists otherwise), atomically, mode 0600.

    The folder must exist (`ensure_wallets_dir`)."""
    temp = _write_temp(path, data)
    try:
        os.link(temp, path)
    except FileExistsError:
        raise WalletError("wallet-exists", f"{path} already exists; choose another name") from None
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def replace_file(path: Path, data: bytes) -> None:
    """Atomically replace a file's content, mode 0600."""
    temp = _write_temp(path, data)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def hold_wallets_lock(home: Path) -> Iterator[None]:
    """An exclusive lock over changes to the wallets folder (released when the block ends)."""
    folder = ensure_wallets_dir(home)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def ensure_wallets_dir(home: Path) -> Path:
    folder = get_wallets_dir(home)
    if not folder.is_dir():
        folder.mkdir(parents=True, mode=FOLDER_MODE, exist_ok=True)
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode is filtered by the umask
    return folder


def _write_temp(path: Path, data: bytes) -> Path:
    temp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return temp


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
