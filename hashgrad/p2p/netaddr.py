"""Peer addresses as the P2P layer keys them: normalized host strings and "host:port" text.

Bans and the address book key peers by IP address (a ban is per host, whatever port the peer
connects from); names that are not IP literals are kept lower-cased as given.
"""

from __future__ import annotations

import ipaddress


def normalize_host(host: str) -> str:
    text = host.strip().strip("[]")
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text.lower()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_valid_port(port) -> bool:
    return isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
