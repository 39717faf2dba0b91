"""The devnet's live progress file (`hashgrad explorer --live FILE`), read with a size limit and checked.

The devnet orchestrator replaces the file atomically after every finished epoch:

    {"epochs": [{"epoch", "height", "checkpoint", "heldout_loss",
                 "uids": [{"uid", "hotkey", "address", "role", "adversary", "incentive",
                           "dividends", "emission", "total_earned"}],
                 "rounds": [{"round", "checkpoint", "heldout_loss", "artifacts"}]   (rounds inside epochs)}],
     "initial_heldout_loss": float | null}

It comes from another process, so only known fields of the expected types are passed on to the page
(`bad-live-file` otherwise); a missing file is a devnet that has not finished an epoch: no epochs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from hashgrad.chain.encoding import is_hex
from hashgrad.errors import HashgradError

MAX_LIVE_FILE_SIZE = 4 * 1024 * 1024
MAX_EPOCHS = 10_000
MAX_UIDS = 4096
MAX_ROUNDS = 4096
ROLES = ("miner", "validator")
EMPTY_LIVE = {"epochs": [], "initial_heldout_loss": None}


def read_live_file(path: Path | None) -> dict:
    """The checked content of the live file; EMPTY_LIVE when there is no file (yet)."""
    if path is None:
        return dict(EMPTY_LIVE)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_LIVE_FILE_SIZE + 1)
    except FileNotFoundError:
        return dict(EMPTY_LIVE)
    except OSError as exc:
        raise HashgradError("bad-live-file", f"cannot read the file: {exc.strerror}") from None
    if len(data) > MAX_LIVE_FILE_SIZE:
        raise HashgradError("bad-live-file", f"the file is larger than {MAX_LIVE_FILE_SIZE} bytes")
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise HashgradError("bad-live-file", "the file is not JSON") from None
    return check_live_document(document)


def check_live_document(document) -> dict:
    """Only the known fields of a live document, each checked; bad-live-file on anything malformed."""
    _expect(isinstance(document, dict), "the document is not an object")
    epochs = document.get("epochs", [])
    _expect(isinstance(epochs, list) and len(epochs) <= MAX_EPOCHS, "epochs is not a list (or too long)")
    initial = document.get("initial_heldout_loss")
    return {
        "epochs": [_check_epoch(e) for e in epochs],
        "initial_heldout_loss": None if initial is None else _number(initial, "initial_heldout_loss"),
    }


def _check_epoch(epoch) -> dict:
    _expect(isinstance(epoch, dict), "an epoch is not an object")
    uids = epoch.get("uids", [])
    _expect(isinstance(uids, list) and len(uids) <= MAX_UIDS, "uids is not a list (or too long)")
    loss = epoch.get("heldout_loss")
    checked = {
        "epoch": _uint(epoch.get("epoch"), "epoch"),
        "height": _uint(epoch.get("height"), "height"),
        "checkpoint": _hex(epoch.get("checkpoint"), "checkpoint"),
        "heldout_loss": None if loss is None else _number(loss, "heldout_loss"),
        "uids": [_check_uid(u) for u in uids],
    }
    inference = epoch.get("inference")
    if inference is not None:  # job 1's uids in the same epoch, when the devnet runs inference servers
        _expect(isinstance(inference, dict), "inference is not an object")
        rows = inference.get("uids", [])
        _expect(isinstance(rows, list) and len(rows) <= MAX_UIDS, "inference uids is not a list (or too long)")
        checked["inference"] = {"job": 1, "uids": [_check_uid(u) for u in rows]}
    rounds = epoch.get("rounds")
    if rounds is not None:  # rounds inside the epoch: each round's checkpoint and held-out loss
        _expect(isinstance(rounds, list) and len(rounds) <= MAX_ROUNDS, "rounds is not a list (or too long)")
        checked["rounds"] = [_check_round(r) for r in rounds]
    return checked


def _check_round(row) -> dict:
    _expect(isinstance(row, dict), "a round is not an object")
    return {
        "round": _uint(row.get("round"), "round"),
        "checkpoint": _hex(row.get("checkpoint"), "round checkpoint"),
        "heldout_loss": _number(row.get("heldout_loss"), "round heldout_loss"),
        "artifacts": _uint(row.get("artifacts"), "round artifacts"),
    }


def _check_uid(row) -> dict:
    _expect(isinstance(row, dict), "a uid row is not an object")
    role = row.get("role")
    _expect(role in ROLES, f"role must be one of {ROLES}")
    adversary = row.get("adversary")
    _expect(
        adversary is None
        or (
            isinstance(adversary, str)
            and 0 < len(adversary) <= 32
            and adversary.replace("-", "").replace("_", "").isalnum()
        ),
        "adversary must be null or a short name",
    )
    address = row.get("address")
    _expect(isinstance(address, str) and 0 < len(address) <= 90 and address.isalnum(), "address is malformed")
    return {
        "uid": _uint(row.get("uid"), "uid"),
        "hotkey": _hex(row.get("hotkey"), "hotkey"),
        "address": address,
        "role": role,
        "adversary": adversary,
        "incentive": _number(row.get("incentive"), "incentive"),
        "dividends": _number(row.get("dividends"), "dividends"),
        "emission": _uint(row.get("emission"), "emission"),
        "total_earned": _uint(row.get("total_earned"), "total_earned"),
    }


def _expect(condition: bool, detail: str) -> None:
    if not condition:
        raise HashgradError("bad-live-file", detail)


def _uint(value, name: str) -> int:
    _expect(type(value) is int and 0 <= value < 2**63, f"{name} must be a non-negative integer")
    return value


def _number(value, name: str) -> float:
    _expect(type(value) in (int, float) and math.isfinite(value), f"{name} must be a finite number")
    return float(value)


def _hex(value, name: str) -> str:
    _expect(is_hex(value) and len(value) == 64 and value == value.lower(), f"{name} must be 64 lower-case hex digits")
    return value
