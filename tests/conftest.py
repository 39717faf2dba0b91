"""Shared pytest fixtures for the whole suite.

The real public test data lives in `tests/data/` (its README names the source of every file); the
helpers in `tests/data_files.py` read it, decompressing the files that are stored gzip-compressed.
"""
from __future__ import annotations
