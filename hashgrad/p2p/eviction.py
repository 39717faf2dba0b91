"""Which inbound peer to drop when every inbound slot is taken (Bitcoin Core's AttemptToEvictConnection,
simplified). Pure: it reads the peers' counters and decides; the manager closes the one chosen.

Protected, in turn, from the candidates: the PROTECT_PING peers with the lowest ping, the
PROTECT_BLOCKS that most recently gave us a new block, then half of the rest by longest uptime. An
attacker would have to beat honest peers on all of these at once. From what is left, the network
group (IPv4 /16, IPv6 /32) with the most connections loses its newest member; a peer whose handshake
has not completed is always the first to go. None when nothing is left to evict (the newcomer is
refused instead).
"""

from __future__ import annotations

from collections import defaultdict

from hashgrad.p2p.addrman import compute_netgroup

PROTECT_PING = 8
PROTECT_BLOCKS = 4


def select_eviction(inbound: list):
    """The peer to evict from these inbound peers, or None."""
    pending = [p for p in inbound if not p.ready.is_set()]
    if pending:
        return max(pending, key=lambda p: (p.conn_time, p.id))
    candidates = list(inbound)
    pinged = sorted((p for p in candidates if p.min_ping is not None), key=lambda p: p.min_ping)[:PROTECT_PING]
    candidates = [p for p in candidates if p not in pinged]
    relayed = sorted((p for p in candidates if p.last_block_time), key=lambda p: p.last_block_time, reverse=True)[
        :PROTECT_BLOCKS
    ]
    candidates = [p for p in candidates if p not in relayed]
    by_age = sorted(candidates, key=lambda p: (p.conn_time, p.id))
    candidates = by_age[(len(by_age) + 1) // 2 :]  # the older half stays (a lone peer is kept)
    if not candidates:
        return None
    groups: dict[str, list] = defaultdict(list)
    for peer in candidates:
        groups[compute_netgroup(peer.remote_ip)].append(peer)
    biggest = max(groups.values(), key=lambda g: (len(g), max(p.conn_time for p in g)))
    return max(biggest, key=lambda p: (p.conn_time, p.id))
