"""A role's keys on disk: the coldkey (funds, stake, registration fees) and the hotkey (its identity
on the job), as one JSON file of two hex secrets, mode 0600."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from hashgrad.chain.encoding import parse_hex
from hashgrad.chain.keys import SigningKey
from hashgrad.errors import HashgradError

MAX_KEYFILE_SIZE = 4096


@dataclass(frozen=True)
class RoleKeys:
    """A participant's coldkey (funds, stake, registration fees) and hotkey (its identity on the job)."""

    coldkey: SigningKey
    hotkey: SigningKey

    @classmethod
    def load(cls, path: Path) -> RoleKeys:
        try:
            raw = json.loads(Path(path).read_text()[:MAX_KEYFILE_SIZE])
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            secrets = [
                parse_hex(raw.get(name), f"{path}: {name}", size=32, reason="bad-keyfile", error=HashgradError)
                for name in ("coldkey", "hotkey")
            ]
            return cls(SigningKey(secrets[0]), SigningKey(secrets[1]))
        except (OSError, ValueError) as exc:
            raise HashgradError("bad-keyfile", f"{path}: {exc}") from None

    def save(self, path: Path) -> None:
        data = json.dumps({"coldkey": self.coldkey.secret.hex(), "hotkey": self.hotkey.secret.hex()})
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(data)
