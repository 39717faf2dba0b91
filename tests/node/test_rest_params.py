"""REST parameters parse ASCII only: a non-ASCII digit ("²", "٣") is a 400 invalid-parameter, never a
500 (before the fix `str.isdigit` let it through to `int`, which raised ValueError)."""

from __future__ import annotations

import asyncio

import pytest

from hashgrad.errors import RpcError
from hashgrad.node.rest import _blockhash_by_height


@pytest.mark.parametrize("text", ["²", "٣", "1²", "１２", "-1", "", "12345678901", "1 "])
def test_blockhash_by_height_refuses_non_ascii_digits(text):
    with pytest.raises(RpcError) as exc:
        asyncio.run(_blockhash_by_height(None, [text]))  # refused before the node is touched
    assert exc.value.reason == "invalid-parameter"
