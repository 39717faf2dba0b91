"""Validator weights as users type them, and the salt files that let a commitment be revealed later.

Weights text is `"uid:w,uid:w,..."` (spaces around items allowed). Each uid is an integer 0-65535,
listed once; the result is sorted by uid. Weights are either all integers, taken as the u16 values
the chain stores (each at most 65535), or, as soon as one is written with a decimal point or an
exponent (`0.5`, `1e-3`), non-negative decimals normalised exactly (no float rounding) so that the
largest becomes 65535 and the others `round(w / max * 65535)` (half up) — Bittensor's max-upscaling.
Entries that end up 0 are dropped (they carry nothing); at least one must stay.

A salt file (`$HASHGRAD_HOME/salts/<job>-<epoch>-<hotkey pubkey hex>.json`, mode 0600, never
overwritten) holds what a reveal needs:

    {"type": "hashgrad-weights-salt", "version": 1, "network": "regtest", "job": 0, "epoch": 3,
     "hotkey": "<64 hex>", "salt": "<64 hex>", "weights": [[uid, u16], ...]}

It is written before the commit is submitted, so a commitment on chain always has its salt on disk.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from hashgrad.chain.coordination import MAX_WEIGHTS
from hashgrad.chain.encoding import parse_hex
from hashgrad.errors import WalletError
from hashgrad.incentive.convert import compute_u16_row_from_floats
from hashgrad.incentive.fixed import U16_MAX
from hashgrad.wallet import files

SALT_SIZE = 32
MAX_WEIGHTS_TEXT = MAX_WEIGHTS * 32
MAX_SALT_FILE_BYTES = 256 * 1024
SALTS_FOLDER = "salts"
SALT_FILE_TYPE = "hashgrad-weights-salt"
SALT_FILE_VERSION = 1
_UID_RE = re.compile(r"[0-9]{1,5}", re.ASCII)
_DECIMAL_RE = re.compile(r"(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})(?:[eE][+-]?[0-9]{1,3})?", re.ASCII)

Weights = tuple[tuple[int, int], ...]


# ---------------------------------------------------------------- weights text
def parse_weights(text: str) -> Weights:
    """((uid, u16), ...) sorted by uid from `"uid:w,..."`; bad-weights for anything else."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_WEIGHTS_TEXT:
        raise WalletError("bad-weights", 'weights are "uid:w,uid:w,..." (at most 4096 entries)')
    pairs = [_parse_pair(item) for item in text.split(",")]
    if len(pairs) > MAX_WEIGHTS:
        raise WalletError("bad-weights", f"at most {MAX_WEIGHTS} weights")
    uids = [uid for uid, _ in pairs]
    if len(set(uids)) != len(uids):
        duplicate = next(uid for uid in uids if uids.count(uid) > 1)
        raise WalletError("bad-weights", f"uid {duplicate} is listed twice")
    is_decimal = any(not value.isdigit() for _, value in pairs)
    if is_decimal:
        values = compute_u16_row_from_floats([Decimal(v) for _, v in pairs])
    else:
        values = tuple(_parse_u16(v) for _, v in pairs)
    weights = tuple(sorted((uid, value) for uid, value in zip(uids, values) if value > 0))
    if not weights:
        raise WalletError("bad-weights", "at least one weight must be positive")
    return weights


def _parse_pair(item: str) -> tuple[int, str]:
    uid_text, sep, value = item.strip().partition(":")
    uid_text, value = uid_text.strip(), value.strip()
    if not sep or not _UID_RE.fullmatch(uid_text) or int(uid_text) > U16_MAX:
        raise WalletError("bad-weights", f"{item.strip()!r}: expected uid:weight with a uid 0-65535")
    if not _DECIMAL_RE.fullmatch(value):
        raise WalletError("bad-weights", f"{item.strip()!r}: a weight is a non-negative number (65535 or 0.25)")
    return int(uid_text), value


def _parse_u16(value: str) -> int:
    number = int(value)
    if number > U16_MAX:
        raise WalletError("bad-weights", f"integer weight {number} above 65535 (write decimals to have them scaled)")
    return number


def format_weights(weights: Weights) -> str:
    return ",".join(f"{uid}:{value}" for uid, value in weights)


# ---------------------------------------------------------------- salt files
@dataclass(frozen=True)
class SaltRecord:
    """The secret half of a weights commitment: what `weights reveal` submits."""

    network: str
    job_id: int
    epoch: int
    hotkey: bytes
    salt: bytes
    weights: Weights

    def to_json(self) -> dict:
        return {
            "type": SALT_FILE_TYPE,
            "version": SALT_FILE_VERSION,
            "network": self.network,
            "job": self.job_id,
            "epoch": self.epoch,
            "hotkey": self.hotkey.hex(),
            "salt": self.salt.hex(),
            "weights": [list(pair) for pair in self.weights],
        }


def get_default_salt_path(home: Path, job_id: int, epoch: int, hotkey: bytes) -> Path:
    return home / SALTS_FOLDER / f"{job_id}-{epoch}-{hotkey.hex()}.json"


def write_salt_file(path: Path, record: SaltRecord) -> None:
    """Store a salt file atomically, mode 0600 (its folder 0700 when we create it); never overwrite one."""
    folder = path.parent
    if not folder.is_dir():
        folder.mkdir(parents=True, mode=files.FOLDER_MODE, exist_ok=True)
    data = (json.dumps(record.to_json(), indent=2) + "\n").encode()
    try:
        files.write_new_file(path, data)
    except WalletError as exc:
        if exc.reason != "wallet-exists":
            raise
        raise WalletError(
            "salt-file-exists", f"{path} already exists: reveal it, or delete it if its commit was never accepted"
        ) from None
    except OSError as exc:
        raise WalletError("bad-salt-file", f"cannot write {path}: {exc.strerror}") from None


def read_salt_file(path: Path) -> SaltRecord:
    """The record of a salt file; no-salt-file if absent, bad-salt-file if malformed."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SALT_FILE_BYTES + 1)
    except FileNotFoundError:
        raise WalletError(
            "no-salt-file", f"no salt file {path} (was `weights commit` run with another --salt-file?)"
        ) from None
    except OSError as exc:
        raise WalletError("bad-salt-file", f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_SALT_FILE_BYTES:
        raise WalletError("bad-salt-file", f"{path} is larger than {MAX_SALT_FILE_BYTES} bytes")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise WalletError("bad-salt-file", f"{path} is not JSON") from None
    return parse_salt_record(doc, str(path))


def parse_salt_record(doc, where: str = "salt file") -> SaltRecord:
    if not isinstance(doc, dict) or doc.get("type") != SALT_FILE_TYPE or doc.get("version") != SALT_FILE_VERSION:
        raise WalletError("bad-salt-file", f"{where} is not a version-{SALT_FILE_VERSION} weights salt file")
    network, job_id, epoch = doc.get("network"), doc.get("job"), doc.get("epoch")
    if not isinstance(network, str) or not _is_int(job_id, U16_MAX) or not _is_int(epoch, 2**32 - 1):
        raise WalletError("bad-salt-file", f"{where}: network, job or epoch malformed")
    hotkey = parse_hex(doc.get("hotkey"), f"{where}: hotkey", size=32, reason="bad-salt-file", error=WalletError)
    salt = parse_hex(doc.get("salt"), f"{where}: salt", size=SALT_SIZE, reason="bad-salt-file", error=WalletError)
    return SaltRecord(network, job_id, epoch, hotkey, salt, _parse_stored_weights(doc.get("weights"), where))


def check_salt_record(record: SaltRecord, network: str, job_id: int, epoch: int, hotkey: bytes) -> SaltRecord:
    """salt-file-mismatch unless the record is for this network, job, epoch and hotkey."""
    wanted = (network, job_id, epoch, hotkey)
    found = (record.network, record.job_id, record.epoch, record.hotkey)
    if wanted != found:
        raise WalletError(
            "salt-file-mismatch",
            f"the salt file is for network {record.network}, job {record.job_id}, "
            f"epoch {record.epoch}, hotkey {record.hotkey.hex()[:16]}...; asked for {network}, job "
            f"{job_id}, epoch {epoch}, hotkey {hotkey.hex()[:16]}...",
        )
    return record


def _parse_stored_weights(value, where: str) -> Weights:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_WEIGHTS:
        raise WalletError("bad-salt-file", f"{where}: weights must be 1-{MAX_WEIGHTS} [uid, u16] pairs")
    if not all(isinstance(p, list) and len(p) == 2 and all(_is_int(x, U16_MAX) for x in p) for p in value):
        raise WalletError("bad-salt-file", f"{where}: weights must be [uid, u16] pairs")
    uids = [uid for uid, _ in value]
    if uids != sorted(set(uids)):
        raise WalletError("bad-salt-file", f"{where}: weight uids must be increasing and unique")
    return tuple((uid, w) for uid, w in value)


def _is_int(value, maximum: int) -> bool:
    return type(value) is int and 0 <= value <= maximum


def compute_new_salt() -> bytes:
    return os.urandom(SALT_SIZE)
