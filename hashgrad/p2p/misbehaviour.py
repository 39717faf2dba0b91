"""How many misbehaviour points a peer earns for each thing it can do wrong (pure tables).

A peer reaching BAN_THRESHOLD is disconnected and its host banned for BAN_DURATION_S, as Bitcoin
Core did. Provably bad data (broken frames, malformed payloads, blocks that break a consensus
rule, transactions with a bad signature) scores the full 100. Things an honest peer can cause by
racing us (a transaction whose nonce our tip has already used, a block from the future, a block
that is merely an orphan or a duplicate) score nothing; policy refusals score a point.
"""

from __future__ import annotations

from hashgrad.errors import ConsensusError, DecodeError, HashgradError, MempoolError

BAN_THRESHOLD = 100
BAN_DURATION_S = 24 * 60 * 60

PROTOCOL_SCORES = {
    "bad-magic": 100,
    "bad-command": 100,
    "bad-checksum": 100,
    "oversized-message": 100,
    "bad-payload": 100,
    "bad-artifact-hash": 100,
    "bad-announcement-signature": 100,
    "headers-flood": 100,
    "bad-headers-noncontinuous": 20,
    "unconnecting-headers": 20,
    "unexpected-version": 1,
    "unknown-command": 1,
    # Refusals that end a connection without blaming the peer.
    "connection-closed": 0,
    "wrong-network": 0,
    "wrong-genesis": 0,
    "obsolete-version": 0,
    "self-connection": 0,
    "duplicate-connection": 0,
}

# Block rejections that do not prove the sender wrong.
HARMLESS_BLOCK_REASONS = frozenset({"time-too-new", "bad-fork-too-deep"})

# Transaction rejections that prove the transaction malformed whatever the chain state.
CONTEXT_FREE_TX_REASONS = frozenset(
    {
        "bad-txns-version",
        "bad-txns-oversize",
        "bad-txns-fee-outofrange",
        "bad-txns-kind",
        "bad-txns-payload",
        "bad-txns-sig",
        "bad-cb-payload",
        "coinbase",
        "bad-encoding",
    }
)
POLICY_TX_SCORES = {"min-relay-fee-not-met": 1, "too-long-mempool-chain": 1}


def compute_protocol_score(reason: str) -> int:
    return PROTOCOL_SCORES.get(reason, 10)


def compute_block_score(error: HashgradError) -> int:
    """Points for sending a block the ledger refused with `error`."""
    if isinstance(error, DecodeError):
        return 100
    if not isinstance(error, ConsensusError) or error.reason in HARMLESS_BLOCK_REASONS:
        return 0
    if error.reason == "duplicate-invalid" and error.detail in HARMLESS_BLOCK_REASONS:
        return 0  # a block we set aside (too deep a fork), not one proven invalid
    return 100


def compute_tx_score(error: HashgradError) -> int:
    """Points for relaying a transaction the mempool refused with `error`."""
    if isinstance(error, MempoolError):
        return POLICY_TX_SCORES.get(error.reason, 0)
    if error.reason in CONTEXT_FREE_TX_REASONS:
        return 100
    return 0
