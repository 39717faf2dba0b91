"""Small JSON state files of the P2P layer (peers.json, banlist.json): size-limited reads, atomic writes.

They live in the datadir and are read back at start-up, so they are treated as untrusted input:
a file that is too big, unreadable or not JSON loads as nothing (with a warning), never as a crash.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger("hashgrad.p2p")
MAX_STATE_FILE_BYTES = 4 << 20


def load_json_file(path: Path | None):
    """The parsed JSON of `path`, or None when absent, oversized or malformed."""
    if path is None or not path.is_file():
        return None
    try:
        if path.stat().st_size > MAX_STATE_FILE_BYTES:
            log.warning("%s is over %d bytes; ignoring it", path, MAX_STATE_FILE_BYTES)
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("cannot read %s (%s); ignoring it", path, exc)
        return None


def save_json_file(path: Path | None, data) -> None:
    """Write atomically (temporary file, then rename) so a crash never leaves half a file."""
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
