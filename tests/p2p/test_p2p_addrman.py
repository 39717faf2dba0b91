"""The address manager (Core's new/tried buckets): an addr flood from one source group cannot evict the
book. Before the fix (a flat book, least recently seen evicted) a flood of 10,000 fresh addresses from
one peer pushed out every address learned elsewhere and every address we had connected to."""

from __future__ import annotations

import json

from hashgrad.p2p.addrman import BUCKET_SIZE, NEW_BUCKETS_PER_SOURCE_GROUP, AddrMan, compute_netgroup


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_netgroups_are_ipv4_16_and_ipv6_32():
    assert compute_netgroup("10.1.2.3") == compute_netgroup("10.1.200.7") == "10.1.0.0/16"
    assert compute_netgroup("10.2.2.3") != compute_netgroup("10.1.2.3")
    assert compute_netgroup("2001:db8:1:2::1") == "2001:db8::/32"
    assert compute_netgroup("::ffff:10.1.2.3") == "10.1.0.0/16"


def test_an_addr_flood_from_one_source_group_cannot_evict_the_book(tmp_path):
    clock = Clock()
    book = AddrMan(tmp_path / "peers.json", clock)
    honest = [(f"10.{i}.0.1", 29444) for i in range(40)]
    for i, (host, port) in enumerate(honest):
        book.add(host, port, source=f"172.{16 + i % 8}.0.9")  # learned from various honest peers
    book.mark_good("192.168.7.7", 29444)  # a peer we connected to ourselves
    kept = [key for key in honest if key in book]
    flood_source = "203.0.113.66"
    for i in range(20_000):  # fresh, far-flung addresses, all from one attacker
        book.add(f"{1 + i % 200}.{i // 200 % 256}.{i % 251}.1", 8333, last_seen=int(clock.now), source=flood_source)
    assert all(key in book for key in kept), "the flood evicted addresses learned elsewhere"
    assert ("192.168.7.7", 29444) in book and ("192.168.7.7", 29444) in {a.key for a in book.tried.values()}
    flooded = sum(1 for key, group in book.sources.items() if group == compute_netgroup(flood_source))
    assert flooded <= NEW_BUCKETS_PER_SOURCE_GROUP * BUCKET_SIZE


def test_the_book_persists_buckets_and_key(tmp_path):
    clock = Clock()
    book = AddrMan(tmp_path / "peers.json", clock)
    book.add("10.0.0.2", 29444, source="10.9.0.1")
    book.add("127.0.0.1", 29445)
    book.mark_good("10.0.0.3", 29444)
    assert not book.add("0.0.0.0", 1) and not book.add("example.com", 1)
    book.save()
    data = json.loads((tmp_path / "peers.json").read_text())
    data["addresses"].append({"host": "999.1.1.1", "port": 5})
    (tmp_path / "peers.json").write_text(json.dumps(data))
    loaded = AddrMan(tmp_path / "peers.json", clock)
    loaded.load()
    assert loaded.key == book.key
    assert sorted(loaded.entries) == sorted(book.entries)
    assert {a.key for a in loaded.tried.values()} == {("10.0.0.3", 29444)}
    assert loaded.new.keys() == book.new.keys()
    picks = loaded.select_candidates({("127.0.0.1", 29445)}, 5)
    assert sorted(a.key for a in picks) == [("10.0.0.2", 29444), ("10.0.0.3", 29444)]
