"""One error hierarchy for all of hashgrad, each error carrying a stable kebab-case reason code.

The same codes travel in P2P rejects and in RPC errors, and tests assert them. Where Bitcoin Core
defines a code for the same rule (`high-hash`, `bad-txnmrklroot`, ...), we use Bitcoin Core's.
"""

from __future__ import annotations


class HashgradError(Exception):
    """Base of every error hashgrad raises on purpose. `reason` is the stable machine code."""

    reason: str = "error"

    def __init__(self, reason: str | None = None, detail: str = ""):
        if reason is not None:
            self.reason = reason
        self.detail = detail
        super().__init__(f"{self.reason}: {detail}" if detail else self.reason)


class DecodeError(HashgradError):
    """Bytes that do not parse into the object they claim to be (truncated, oversized, trailing).

    `bad-encoding` for wire and block objects; `bad-state-record` for a state value whose length is
    not its record's (chain/state.py, chain/coordination.py).
    """

    reason = "bad-encoding"


class ConsensusError(HashgradError):
    """A block, header or transaction that breaks a consensus rule."""

    reason = "invalid"


class HeaderError(ConsensusError):
    """A header that fails proof of work, difficulty, linkage or time rules."""


class BlockError(ConsensusError):
    """A block whose body breaks a rule (Merkle root, size, coinbase, contained transactions)."""


class TxError(ConsensusError):
    """A transaction that is malformed or does not apply to the state it is checked against."""


class MempoolError(HashgradError):
    """A transaction the mempool refuses for policy rather than consensus (fee, size, full)."""


class StoreError(HashgradError):
    """The database or artifact store holds something it should not, or cannot be used."""


class WorkError(HashgradError):
    """A training artifact, checkpoint or dataset that fails its checks."""


class IncentiveError(HashgradError):
    """Inputs to incentive consensus that are malformed (shapes, negative stake, NaN)."""


class ProtocolError(HashgradError):
    """A peer message that breaks the wire protocol (bad magic, checksum, size, unknown type)."""


class RpcError(HashgradError):
    """An RPC call that cannot be served; `code` follows Bitcoin Core's JSON-RPC codes."""

    def __init__(self, reason: str | None = None, detail: str = "", code: int = -1):
        super().__init__(reason, detail)
        self.code = code


class WalletError(HashgradError):
    """A wallet that cannot be used as asked (wrong password, unknown name, corrupt file, no funds)."""
