"""The address book: peer addresses heard of (addr gossip, inbound versions), kept in `DIR/peers.json`.

Only IP literals with a usable port are kept (no unspecified or multicast addresses); loopback and
private ranges are allowed because devnets run there. Times from peers are clamped to our clock.
The book is bounded: past `max_entries`, the least recently seen address is forgotten. Entries
loaded from disk go through the same validation as entries heard from peers.
"""

from __future__ import annotations

import ipaddress
import random
import time
from dataclasses import dataclass
from pathlib import Path

from hashgrad.p2p.jsonfile import load_json_file, save_json_file
from hashgrad.p2p.messages import SERVICE_NETWORK, AddrEntry
from hashgrad.p2p.netaddr import is_valid_port, normalize_host

MAX_ADDRESSES = 10_000


@dataclass(frozen=True)
class KnownAddress:
    host: str
    port: int
    services: int
    last_seen: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.host, self.port)

    def to_entry(self) -> AddrEntry:
        return AddrEntry(self.last_seen & 0xFFFFFFFF, self.services, self.host, self.port)


def is_usable_address(host: str, port) -> bool:
    """An IP literal we could connect to: not unspecified or multicast, port in 1..65535."""
    if not isinstance(host, str) or not is_valid_port(port):
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not (ip.is_unspecified or ip.is_multicast or ip.is_reserved)


class AddrBook:
    def __init__(self, path: Path | None, clock=time.time, max_entries: int = MAX_ADDRESSES):
        self.path = path
        self.clock = clock
        self.max_entries = max_entries
        self.entries: dict[tuple[str, int], KnownAddress] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: tuple[str, int]) -> bool:
        return (normalize_host(key[0]), key[1]) in self.entries

    def add(self, host: str, port: int, services: int = SERVICE_NETWORK, last_seen: int | None = None) -> bool:
        """Remember an address; False when it is not usable. Keeps the newest time seen."""
        host = normalize_host(host) if isinstance(host, str) else host
        if not is_usable_address(host, port) or not isinstance(services, int) or services < 0:
            return False
        now = int(self.clock())
        seen = now if last_seen is None else min(int(last_seen), now)
        old = self.entries.get((host, port))
        if old is not None and old.last_seen >= seen:
            return True
        self.entries[(host, port)] = KnownAddress(host, port, services & 0xFFFFFFFFFFFFFFFF, seen)
        if len(self.entries) > self.max_entries:
            del self.entries[min(self.entries.values(), key=lambda a: a.last_seen).key]
        return True

    def remove(self, host: str, port: int) -> None:
        self.entries.pop((normalize_host(host), port), None)

    def get_addr_entries(self, limit: int) -> list[AddrEntry]:
        """Up to `limit` addresses, a random sample when there are more (what a getaddr gets)."""
        known = list(self.entries.values())
        chosen = known if len(known) <= limit else random.sample(known, limit)
        return [a.to_entry() for a in chosen]

    def select_candidates(self, exclude: set[tuple[str, int]], count: int) -> list[KnownAddress]:
        """Addresses to try for outbound connections, most recently seen first."""
        fresh = [a for a in self.entries.values() if a.key not in exclude]
        fresh.sort(key=lambda a: a.last_seen, reverse=True)
        return fresh[:count]

    def load(self) -> None:
        data = load_json_file(self.path)
        items = data.get("addresses", []) if isinstance(data, dict) else []
        for item in items[: self.max_entries] if isinstance(items, list) else []:
            if isinstance(item, dict):
                last_seen = item.get("last_seen")
                self.add(
                    item.get("host"),
                    item.get("port"),
                    item.get("services", SERVICE_NETWORK),
                    last_seen if isinstance(last_seen, int) else 0,
                )

    def save(self) -> None:
        save_json_file(
            self.path,
            {
                "addresses": [
                    {"host": a.host, "port": a.port, "services": a.services, "last_seen": a.last_seen}
                    for a in self.entries.values()
                ]
            },
        )
