"""Storage shells: the SQLite chain database (blocks, block index, state, undo, indexes)."""
