"""JSON from untrusted bytes: size- and depth-limited, failing only with the project's error type.

`json.loads` on hostile input can raise RecursionError (deep nesting), ValueError (integers with
thousands of digits), or return NaN/Infinity; none of those is a `HashgradError`, so a decoder that
calls it directly lets one bad artifact or reply stop a process. `parse_json` checks the nesting
depth with a linear scan before parsing, refuses the non-standard constants, and turns every parse
failure into the caller's error class with the caller's reason code.
"""

from __future__ import annotations

import json
import re

from hashgrad.errors import HashgradError

MAX_DEPTH = 32
# a JSON string literal (escapes included); removed before counting brackets so "[[[" in text is not depth
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def compute_json_depth(text: str, limit: int) -> int:
    """The deepest bracket nesting in `text` (strings ignored), stopping once it passes `limit`."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        else:
            depth -= 1
    return deepest


def _refuse_constant(name: str):
    raise ValueError(f"non-standard constant {name}")


def parse_json(
    data: bytes | str, error: type[HashgradError], reason: str, max_bytes: int = 1 << 20, max_depth: int = MAX_DEPTH
) -> object:
    """The JSON value in `data`, or `error(reason)` for anything too big, too deep or not strict JSON."""
    if len(data) > max_bytes:
        raise error(reason, f"JSON of {len(data)} bytes > limit {max_bytes}")
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray, memoryview)) else data
    except UnicodeDecodeError:
        raise error(reason, "JSON is not UTF-8") from None
    if not isinstance(text, str):
        raise error(reason, "JSON must be text")
    if compute_json_depth(text, max_depth) > max_depth:
        raise error(reason, f"JSON nested deeper than {max_depth}")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; so are huge integers
        raise error(reason, f"not JSON: {str(exc)[:120]}") from None
