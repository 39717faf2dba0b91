"""Incentive consensus: Bittensor's Yuma consensus and the emission split, as pure integer rules.

Layer 2 of hashgrad (see DESIGN.md): no I/O, no clocks, no floats on the consensus path.

* `yuma.py`     one epoch: (weights, stake, bonds, params) -> consensus, incentive, dividends, bonds
* `emission.py` the epoch payout to miners (by incentive) and validators (by dividends)
* `fixed.py`    I32F32 fixed point (the rounding rules), `linalg.py` / `median.py` / `bonds.py`
  the steps of the epoch; `convert.py` float <-> integer helpers for the CLI and tests.
"""

from hashgrad.incentive.emission import (
    EmissionSplit,
    compute_emission_split,
    compute_ratio_split,
)
from hashgrad.incentive.yuma import YumaParams, YumaResult, compute_yuma_epoch

__all__ = [
    "EmissionSplit",
    "YumaParams",
    "YumaResult",
    "compute_emission_split",
    "compute_ratio_split",
    "compute_yuma_epoch",
]
