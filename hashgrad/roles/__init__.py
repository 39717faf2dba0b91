"""Long-running participants of a job, as thin shells over the chain's RPC and the work library:
the training miner and the training validator. Each is one OS process talking to one node."""
