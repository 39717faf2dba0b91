"""Pure consensus rules over plain data: Bitcoin's header, proof of work, difficulty and Merkle rules,
and hashgrad's own ledger (accounts, transactions, blocks, state transition). No I/O lives here."""
