"""The local demo network: nodes, a block maker, miners and validators as separate processes on
127.0.0.1, driven end to end through the chain (`hashgrad devnet`)."""
