"""Validation of JSON-RPC parameters: every value a caller sends is checked here before use.

Each `parse_*` takes the raw JSON value and a name for the error message and returns the typed value,
or raises RpcError with Bitcoin Core's code: -8 (RPC_INVALID_PARAMETER) for a wrong value, -5
(RPC_INVALID_ADDRESS_OR_KEY) for an address that is not this network's, -22 (RPC_DESERIALIZATION_ERROR)
for hex that does not decode into the object it claims to be.
"""

from __future__ import annotations

from hashgrad.chain import encoding
from hashgrad.chain.bech32 import decode_address
from hashgrad.chain.hashes import display_to_hash
from hashgrad.errors import HashgradError, RpcError

RPC_INVALID_PARAMS = -32602
RPC_INVALID_PARAMETER = -8
RPC_INVALID_ADDRESS_OR_KEY = -5
RPC_DESERIALIZATION_ERROR = -22
MAX_HEX_CHARS = 2 * 4 * 1024 * 1024


def check_param_count(params: list, least: int, most: int) -> None:
    if not least <= len(params) <= most:
        wanted = f"{least}" if least == most else f"{least} to {most}"
        raise RpcError("invalid-params", f"expected {wanted} parameters, got {len(params)}", RPC_INVALID_PARAMS)


def get_param(params: list, index: int, default=None):
    return params[index] if index < len(params) and params[index] is not None else default


def parse_int(value, name: str, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RpcError("invalid-parameter", f"{name} must be an integer", RPC_INVALID_PARAMETER)
    if low is not None and value < low:
        raise RpcError("invalid-parameter", f"{name} must be at least {low}", RPC_INVALID_PARAMETER)
    if high is not None and value > high:
        raise RpcError("invalid-parameter", f"{name} must be at most {high}", RPC_INVALID_PARAMETER)
    return value


def parse_bool(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):  # bitcoin-cli passes verbose flags as 0/1 too
        return bool(value)
    raise RpcError("invalid-parameter", f"{name} must be a boolean", RPC_INVALID_PARAMETER)


def parse_str(value, name: str, max_len: int = 256) -> str:
    if not isinstance(value, str):
        raise RpcError("invalid-parameter", f"{name} must be a string", RPC_INVALID_PARAMETER)
    if len(value) > max_len:
        raise RpcError("invalid-parameter", f"{name} longer than {max_len} characters", RPC_INVALID_PARAMETER)
    return value


def parse_hash(value, name: str) -> bytes:
    """A 64-hex-digit hash in display (byte-reversed) order, returned in internal order."""
    text = parse_str(value, name, 64)
    try:
        return display_to_hash(text)
    except HashgradError:
        raise RpcError(
            "invalid-parameter", f"{name} must be a 64-digit hex hash, got {text!r}", RPC_INVALID_PARAMETER
        ) from None


def parse_hex(value, name: str, max_chars: int = MAX_HEX_CHARS) -> bytes:
    """The bytes of a hex string parameter (at most max_chars characters), by the one hex rule."""
    return encoding.parse_hex(
        parse_str(value, name, max_chars),
        name,
        error=lambda reason, detail: RpcError("invalid-parameter", detail, RPC_INVALID_PARAMETER),
    )


def parse_address(value, name: str, hrp: str) -> bytes:
    """The 32-byte public key of an address of this network (hrp)."""
    text = parse_str(value, name, 90)
    try:
        return decode_address(hrp, text)
    except HashgradError as exc:
        raise RpcError("invalid-address", f"{name}: {exc.detail or exc.reason}", RPC_INVALID_ADDRESS_OR_KEY) from None


def parse_host_port(value, name: str, default_port: int) -> tuple[str, int]:
    """HOST:PORT (or HOST alone, with the network's port); IPv6 as [addr]:port."""
    text = parse_str(value, name, 300).strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host:
        raise RpcError("invalid-parameter", f"{name}: no host in {text!r}", RPC_INVALID_PARAMETER)
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RpcError("invalid-parameter", f"{name}: bad port in {text!r}", RPC_INVALID_PARAMETER)
    return host, int(port_text)
