"""hashgrad: a Bitcoin-compatible, merge-minable ledger that pays people to train and serve open models."""

__version__ = "0.1.0"
