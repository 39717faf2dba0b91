"""The node's JSON view of a transaction (`rpc_views.tx_to_json`, used by getblock, getrawtransaction and
the explorer) turns every payload into JSON: bytes as hex at any depth, so a payload of nested entries
(PUBLISH_EVIDENCE) shows as lists, not a serialization error."""

from __future__ import annotations

import json

from hashgrad.chain.coordination_make import make_publish_evidence, make_reveal_weights
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import get_network
from hashgrad.node.rpc_views import tx_to_json

PARAMS = get_network("regtest")
KEY = SigningKey(b"\x07" * 32)


def test_tx_to_json_shows_evidence_entries_as_lists_of_hex():
    tx = make_publish_evidence(KEY, PARAMS.magic, 0, 0, 3, ((1, 1, b"\xaa" * 32), (4, 2, b"\xbb" * 32)))
    view = json.loads(json.dumps(tx_to_json(PARAMS, tx)))
    assert view["kind"] == "publish_evidence" and (view["job_id"], view["epoch"]) == (0, 3)
    assert view["entries"] == [[1, 1, "aa" * 32], [4, 2, "bb" * 32]]


def test_tx_to_json_keeps_weights_as_pairs():
    tx = make_reveal_weights(KEY, PARAMS.magic, 0, 0, 3, ((0, 5), (2, 65535)), b"\x01" * 32)
    view = json.loads(json.dumps(tx_to_json(PARAMS, tx)))
    assert view["weights"] == [[0, 5], [2, 65535]] and view["salt"] == "01" * 32
