"""Bech32 and Bech32m (BIP173 / BIP350), and hashgrad's account addresses.

A hashgrad address is bech32m with a per-network prefix (`hg`, `thg`, `rhg`, `dhg`) whose data is
a version (0) followed by the 32-byte x-only public key of the account.
"""

from __future__ import annotations

from enum import Enum

from hashgrad.errors import DecodeError

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
ADDRESS_VERSION = 0


class Encoding(Enum):
    BECH32 = 1
    BECH32M = 0x2BC830A3


def compute_polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(GENERATORS):
            chk ^= gen if (top >> i) & 1 else 0
    return chk


def expand_hrp(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_encode(hrp: str, data: list[int], encoding: Encoding) -> str:
    values = expand_hrp(hrp) + data
    polymod = compute_polymod(values + [0] * 6) ^ encoding.value
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in data + checksum)


def bech32_decode(text: str) -> tuple[str, list[int], Encoding]:
    """(hrp, data without checksum, encoding); raises DecodeError('bad-bech32') on any violation."""
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise DecodeError("bad-bech32", "character out of range")
    if text.lower() != text and text.upper() != text:
        raise DecodeError("bad-bech32", "mixed case")
    if len(text) > 90:
        raise DecodeError("bad-bech32", "longer than 90 characters")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise DecodeError("bad-bech32", "missing separator, empty prefix or short checksum")
    if any(c not in CHARSET for c in text[pos + 1 :]):
        raise DecodeError("bad-bech32", "invalid data character")
    hrp = text[:pos]
    data = [CHARSET.find(c) for c in text[pos + 1 :]]
    polymod = compute_polymod(expand_hrp(hrp) + data)
    for encoding in Encoding:
        if polymod == encoding.value:
            return hrp, data[:-6], encoding
    raise DecodeError("bad-bech32", "checksum mismatch")


def convert_bits(data, from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = bits = 0
    out = []
    maxv = (1 << to_bits) - 1
    for value in data:
        if value < 0 or value >> from_bits:
            raise DecodeError("bad-bech32", "value out of range")
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or ((acc << (to_bits - bits)) & maxv):
        raise DecodeError("bad-bech32", "invalid padding")
    return out


def decode_segwit_address(hrp: str, address: str) -> tuple[int, bytes]:
    """BIP173/BIP350 segwit address → (witness version, program); DecodeError on any violation."""
    found_hrp, data, encoding = bech32_decode(address)
    if found_hrp != hrp or not data:
        raise DecodeError("bad-address", "wrong prefix or empty data")
    version = data[0]
    program = bytes(convert_bits(data[1:], 5, 8, False))
    if version > 16 or not 2 <= len(program) <= 40:
        raise DecodeError("bad-address", "invalid witness version or program length")
    if version == 0 and len(program) not in (20, 32):
        raise DecodeError("bad-address", "v0 program must be 20 or 32 bytes")
    if (version == 0) != (encoding is Encoding.BECH32):
        raise DecodeError("bad-address", "v0 needs bech32, v1+ needs bech32m")
    return version, program


def encode_address(hrp: str, pubkey: bytes) -> str:
    """A hashgrad account address: bech32m(hrp, [version] + 5-bit pubkey)."""
    return bech32_encode(hrp, [ADDRESS_VERSION] + convert_bits(pubkey, 8, 5, True), Encoding.BECH32M)


def decode_address(hrp: str, address: str) -> bytes:
    """The 32-byte public key of a hashgrad address; DecodeError('bad-address') otherwise."""
    if not isinstance(address, str) or len(address) > 90:
        raise DecodeError("bad-address", "not an address")
    try:
        found_hrp, data, encoding = bech32_decode(address)
    except DecodeError as exc:
        raise DecodeError("bad-address", exc.detail) from exc
    if found_hrp != hrp:
        raise DecodeError("bad-address", f"prefix {found_hrp!r} is not this network's {hrp!r}")
    if encoding is not Encoding.BECH32M or not data or data[0] != ADDRESS_VERSION:
        raise DecodeError("bad-address", "not a bech32m version-0 hashgrad address")
    pubkey = bytes(convert_bits(data[1:], 5, 8, False))
    if len(pubkey) != 32:
        raise DecodeError("bad-address", "an address holds a 32-byte key")
    return pubkey
