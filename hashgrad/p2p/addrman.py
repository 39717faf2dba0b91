"""The address manager: Bitcoin Core's addrman design (new and tried tables of buckets), kept in
`DIR/peers.json`, so that a flood of `addr` messages cannot take over the book (eclipse).

    new     addresses heard of (gossip, inbound versions): NEW_BUCKETS buckets of BUCKET_SIZE slots.
            The bucket is chosen by a keyed hash of the address's group *and the group of the peer
            that told us*; one source group reaches only NEW_BUCKETS_PER_SOURCE_GROUP buckets, so a
            single attacker (one /16) can fill at most 64 x 64 = 4,096 of the 65,536 slots.
    tried   addresses we connected to ourselves: TRIED_BUCKETS buckets, keyed by the address's group.
            Gossip never writes here; only a successful outbound handshake (`mark_good`) does.

A slot already taken keeps its occupant unless the occupant is stale (not seen for 30 days), so
newcomers cannot evict what the book holds. Groups are IPv4 /16 and IPv6 /32 (Core's netgroups);
the hash key is random per node and persisted, so an attacker cannot aim at buckets. Validation of
every address (from peers and from disk) is `addrbook.is_usable_address`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import random
import time
from pathlib import Path

from hashgrad.p2p.addrbook import KnownAddress, is_usable_address
from hashgrad.p2p.jsonfile import load_json_file, save_json_file
from hashgrad.p2p.messages import SERVICE_NETWORK, AddrEntry
from hashgrad.p2p.netaddr import normalize_host

NEW_BUCKETS = 1024
TRIED_BUCKETS = 256
BUCKET_SIZE = 64
NEW_BUCKETS_PER_SOURCE_GROUP = 64
TRIED_BUCKETS_PER_GROUP = 8
STALE_AFTER_S = 30 * 24 * 60 * 60


def compute_netgroup(host: str) -> str:
    """The network group of an address: IPv4 /16, IPv6 /32 (what per-subnet limits and buckets key on)."""
    try:
        ip = ipaddress.ip_address(normalize_host(host))
    except ValueError:
        return "name:" + host.lower()
    prefix = 16 if ip.version == 4 else 32
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


class AddrMan:
    def __init__(self, path: Path | None, clock=time.time):
        self.path = path
        self.clock = clock
        self.key = os.urandom(32)
        self.new: dict[tuple[int, int], KnownAddress] = {}  # (bucket, slot) -> address
        self.tried: dict[tuple[int, int], KnownAddress] = {}
        self.where: dict[tuple[str, int], tuple[str, tuple[int, int]]] = {}  # key -> ("new"|"tried", position)
        self.sources: dict[tuple[str, int], str] = {}  # key -> source group (of new entries)

    # ------------------------------------------------------------ placement (pure of the key)
    def _hash(self, *parts: str | int) -> int:
        data = b"|".join(str(p).encode() for p in parts)
        return int.from_bytes(hashlib.sha256(self.key + data).digest()[:8], "little")

    def compute_new_position(self, host: str, port: int, source_group: str) -> tuple[int, int]:
        group = compute_netgroup(host)
        bucket = self._hash("N", source_group, self._hash("n", group, source_group) % NEW_BUCKETS_PER_SOURCE_GROUP)
        bucket %= NEW_BUCKETS
        return bucket, self._hash("S", bucket, host, port) % BUCKET_SIZE

    def compute_tried_position(self, host: str, port: int) -> tuple[int, int]:
        group = compute_netgroup(host)
        bucket = self._hash("T", group, self._hash("t", host, port) % TRIED_BUCKETS_PER_GROUP) % TRIED_BUCKETS
        return bucket, self._hash("S", bucket, host, port) % BUCKET_SIZE

    # ------------------------------------------------------------ the book's interface
    def __len__(self) -> int:
        return len(self.where)

    def __contains__(self, key: tuple[str, int]) -> bool:
        return (normalize_host(key[0]), key[1]) in self.where

    @property
    def entries(self) -> dict[tuple[str, int], KnownAddress]:
        return {a.key: a for a in (*self.new.values(), *self.tried.values())}

    def is_stale(self, address: KnownAddress) -> bool:
        return self.clock() - address.last_seen > STALE_AFTER_S

    def add(
        self,
        host: str,
        port: int,
        services: int = SERVICE_NETWORK,
        last_seen: int | None = None,
        source: str | None = None,
    ) -> bool:
        """Remember an address heard of from `source` (a host; None: ourselves). False when unusable.
        A known address only has its time refreshed; a new one takes its new-table slot unless that
        slot's occupant is still fresh."""
        host = normalize_host(host) if isinstance(host, str) else host
        if not is_usable_address(host, port) or not isinstance(services, int) or services < 0:
            return False
        now = int(self.clock())
        seen = now if last_seen is None else min(int(last_seen), now)
        address = KnownAddress(host, port, services & 0xFFFFFFFFFFFFFFFF, seen)
        place = self.where.get(address.key)
        if place is not None:
            table = self.new if place[0] == "new" else self.tried
            if table[place[1]].last_seen < seen:
                table[place[1]] = address
            return True
        source_group = compute_netgroup(source) if source and source != "self" else "self"
        position = self.compute_new_position(host, port, source_group)
        occupant = self.new.get(position)
        if occupant is not None:
            if not self.is_stale(occupant) or occupant.last_seen >= seen:
                return True  # the slot keeps its occupant: a flood cannot evict the book
            self._forget(occupant.key)
        self.new[position] = address
        self.where[address.key] = ("new", position)
        self.sources[address.key] = source_group
        return True

    def mark_good(self, host: str, port: int, services: int = SERVICE_NETWORK) -> None:
        """We completed an outbound handshake with it: move it to (or refresh it in) the tried table."""
        host = normalize_host(host)
        if not is_usable_address(host, port):
            return
        address = KnownAddress(host, port, services & 0xFFFFFFFFFFFFFFFF, int(self.clock()))
        self._forget(address.key)
        position = self.compute_tried_position(host, port)
        evicted = self.tried.get(position)
        if evicted is not None:  # the older tried entry goes back to the new table (as Core does)
            self._forget(evicted.key)
        self.tried[position] = address
        self.where[address.key] = ("tried", position)
        if evicted is not None:
            self.add(evicted.host, evicted.port, evicted.services, evicted.last_seen, None)

    def remove(self, host: str, port: int) -> None:
        self._forget((normalize_host(host), port))

    def _forget(self, key: tuple[str, int]) -> None:
        place = self.where.pop(key, None)
        self.sources.pop(key, None)
        if place is not None:
            (self.new if place[0] == "new" else self.tried).pop(place[1], None)

    def get_addr_entries(self, limit: int) -> list[AddrEntry]:
        """Up to `limit` addresses, a random sample when there are more (what a getaddr gets)."""
        known = list(self.entries.values())
        chosen = known if len(known) <= limit else random.sample(known, limit)
        return [a.to_entry() for a in chosen]

    def select_candidates(self, exclude: set[tuple[str, int]], count: int) -> list[KnownAddress]:
        """Addresses to try for outbound connections: half the time from tried, else from new, at random."""
        tried = [a for a in self.tried.values() if a.key not in exclude]
        new = [a for a in self.new.values() if a.key not in exclude]
        out = []
        while (tried or new) and len(out) < count:
            pool = tried if tried and (not new or random.random() < 0.5) else new
            out.append(pool.pop(random.randrange(len(pool))))
        return out

    # ------------------------------------------------------------ persistence
    def load(self) -> None:
        data = load_json_file(self.path)
        if not isinstance(data, dict):
            return
        key = data.get("key")
        if isinstance(key, str) and len(key) == 64:
            try:
                self.key = bytes.fromhex(key)
            except ValueError:
                pass
        for name in ("tried", "addresses"):  # "addresses": new entries (and the older flat format)
            items = data.get(name, [])
            for item in items[: NEW_BUCKETS * BUCKET_SIZE] if isinstance(items, list) else []:
                if not isinstance(item, dict):
                    continue
                last_seen = item.get("last_seen")
                last_seen = last_seen if isinstance(last_seen, int) and not isinstance(last_seen, bool) else 0
                services = item.get("services", SERVICE_NETWORK)
                source = item.get("source") if isinstance(item.get("source"), str) else None
                if not isinstance(services, int) or isinstance(services, bool) or services < 0:
                    continue
                if name == "tried" and is_usable_address(item.get("host"), item.get("port")):
                    self.mark_good(item.get("host"), item.get("port"), services)
                elif name == "addresses":
                    self.add(item.get("host"), item.get("port"), services, last_seen, source)

    def save(self) -> None:
        def row(a: KnownAddress) -> dict:
            return {"host": a.host, "port": a.port, "services": a.services, "last_seen": a.last_seen}

        new = [row(a) | {"source": self.sources.get(a.key, "self").split("/")[0]} for a in self.new.values()]
        # (a group is saved as its network address, e.g. "10.1.0.0", which maps back to the same group)
        save_json_file(
            self.path, {"key": self.key.hex(), "addresses": new, "tried": [row(a) for a in self.tried.values()]}
        )
