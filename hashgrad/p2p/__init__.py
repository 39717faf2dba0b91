"""hashgrad's peer-to-peer protocol: Bitcoin-style framed messages over plain asyncio TCP.

    wire          frame layout (magic | command | length | checksum | payload) and size limits
    messages      the wire messages as frozen dataclasses with explicit serialize/deserialize
    peer          one connection: handshake, reader/writer/ping tasks, counters, misbehaviour score
    manager       PeerManager: listening, connecting, limits, bans, address gossip, public API
    sync          headers-first block sync and inv/getdata relay of blocks and transactions
    artifacts     the getartifact/artifact family for content-addressed work artifacts
    locator, download, banlist, addrbook, addrman, misbehaviour, netaddr, jsonfile   the small pieces those use

Misbehaving peers are banned per IP address; tests that play bad peers connect from other loopback
addresses (127.0.0.2, ...) so the honest nodes on 127.0.0.1 are never caught by those bans.
"""
