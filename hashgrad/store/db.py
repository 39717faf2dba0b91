"""The SQLite chain database: schema and connection settings.

WAL mode with synchronous=NORMAL: a process killed at any instant (SIGKILL included) reopens to the
last committed transaction, and connecting or disconnecting a block is exactly one transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hashgrad.errors import StoreError

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS block_index (
    hash BLOB PRIMARY KEY, prev BLOB NOT NULL, height INTEGER NOT NULL, chainwork BLOB NOT NULL,
    time INTEGER NOT NULL, bits INTEGER NOT NULL, status INTEGER NOT NULL, seq INTEGER NOT NULL,
    failure TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (hash BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS undo (hash BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS active_chain (height INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tx_index (txid BLOB PRIMARY KEY, block_hash BLOB NOT NULL, position INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS address_index (
    pubkey BLOB NOT NULL, height INTEGER NOT NULL, position INTEGER NOT NULL, txid BLOB NOT NULL,
    PRIMARY KEY (pubkey, height, position)
) WITHOUT ROWID;
"""


def open_database(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.executescript(SCHEMA)
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if row is None:
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    elif int(row[0]) != SCHEMA_VERSION:
        raise StoreError("bad-schema-version", f"database schema {row[0]}, this build reads {SCHEMA_VERSION}")
    return conn
