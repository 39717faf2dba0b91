"""The money unit, the one constant both the chain and the wallet/incentive code count in.

A module of its own (no imports) so that `chain/jobs.py` and `chain/params.py`, which import each
other in one direction only, and any layer above them take `COIN` from the same place.
"""

from __future__ import annotations

COIN = 100_000_000  # base units in one coin, as Bitcoin's satoshis
