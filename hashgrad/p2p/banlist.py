"""The ban list: hosts refused for a while after misbehaving, kept in `DIR/banlist.json`.

A ban is per host (IP address) or per subnet in CIDR form ("10.1.0.0/16", "2001:db8::/32", as
Bitcoin Core's setban takes), with the time it was made, when it ends and why; a host is banned
when its address or any banned subnet holding it is. Entries read back from disk are validated one
by one; malformed or expired ones are dropped. The clock is an input so tests can move time.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from pathlib import Path

from hashgrad.errors import HashgradError
from hashgrad.p2p.jsonfile import load_json_file, save_json_file
from hashgrad.p2p.misbehaviour import BAN_DURATION_S
from hashgrad.p2p.netaddr import normalize_host

MAX_BANS = 10_000
MAX_REASON_CHARS = 200


def normalize_ban_target(text: str) -> str | None:
    """A host as `normalize_host` gives it, or a subnet as "network/prefix"; None for a bad subnet."""
    if "/" not in text:
        return normalize_host(text)
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    return str(network)


def parse_subnet(target: str):
    """The network of a subnet ban target, or None for a single host."""
    return ipaddress.ip_network(target) if "/" in target else None


@dataclass(frozen=True)
class BanEntry:
    host: str
    created: int
    until: int
    reason: str

    def to_json(self) -> dict:
        return {"host": self.host, "created": self.created, "until": self.until, "reason": self.reason}

    @classmethod
    def from_json(cls, item) -> BanEntry | None:
        """The entry of one JSON object, or None when it is malformed."""
        if not isinstance(item, dict):
            return None
        host, created, until, reason = (item.get(k) for k in ("host", "created", "until", "reason"))
        if not isinstance(host, str) or not host or len(host) > 255:
            return None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (created, until)):
            return None
        if not isinstance(reason, str):
            return None
        target = normalize_ban_target(host)
        return None if target is None else cls(target, created, until, reason[:MAX_REASON_CHARS])


class BanList:
    def __init__(self, path: Path | None, clock=time.time):
        self.path = path
        self.clock = clock
        self.entries: dict[str, BanEntry] = {}

    def now(self) -> int:
        return int(self.clock())

    def load(self) -> None:
        data = load_json_file(self.path)
        items = data.get("banned", []) if isinstance(data, dict) else []
        now = self.now()
        for item in items[:MAX_BANS] if isinstance(items, list) else []:
            entry = BanEntry.from_json(item)
            if entry is not None and entry.until > now:
                self.entries[entry.host] = entry

    def save(self) -> None:
        self._drop_expired()
        save_json_file(self.path, {"banned": [e.to_json() for e in self.entries.values()]})

    def ban(self, host: str, duration_s: int = BAN_DURATION_S, reason: str = "misbehaving") -> BanEntry:
        """Ban a host or a CIDR subnet; HashgradError `invalid-subnet` for a malformed subnet."""
        target = normalize_ban_target(host)
        if target is None:
            raise HashgradError("invalid-subnet", f"{host[:60]!r} is not a subnet")
        now = self.now()
        entry = BanEntry(target, now, now + int(duration_s), reason[:MAX_REASON_CHARS])
        self.entries[entry.host] = entry
        if len(self.entries) > MAX_BANS:  # forget the ban that ends first
            del self.entries[min(self.entries.values(), key=lambda e: e.until).host]
        self.save()
        return entry

    def unban(self, host: str) -> bool:
        removed = self.entries.pop(normalize_ban_target(host) or host, None) is not None
        if removed:
            self.save()
        return removed

    def clear(self) -> None:
        self.entries.clear()
        self.save()

    def is_banned(self, host: str) -> bool:
        """Is this host banned (by address or by a subnet holding it)? A subnet: is it banned itself?"""
        target = normalize_ban_target(host) or host
        now = self.now()
        entry = self.entries.get(target)
        if entry is not None and entry.until > now:
            return True
        if "/" in target:
            return False
        try:
            ip = ipaddress.ip_address(target)
        except ValueError:
            return False
        return any(
            e.until > now and (net := parse_subnet(e.host)) is not None and ip.version == net.version and ip in net
            for e in self.entries.values()
            if "/" in e.host
        )

    def list_banned(self) -> list[dict]:
        """Bitcoin Core's listbanned shape: address, ban_created, banned_until, ban_duration, time_remaining."""
        self._drop_expired()
        now = self.now()
        return [
            {
                "address": e.host,
                "ban_created": e.created,
                "banned_until": e.until,
                "ban_duration": e.until - e.created,
                "time_remaining": e.until - now,
                "ban_reason": e.reason,
            }
            for e in sorted(self.entries.values(), key=lambda e: e.created)
        ]

    def _drop_expired(self) -> None:
        now = self.now()
        for host in [h for h, e in self.entries.items() if e.until <= now]:
            del self.entries[host]
