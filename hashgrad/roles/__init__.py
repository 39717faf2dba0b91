"""Long-running participants of a job, as thin shells over the node client and the work library:
the training miner and validator, the inference miner and validator. Each is one OS process talking
to one node through `hashgrad.node.client.NodeClient` (typed replies); `keys` holds their key file."""
