"""The node shell: mempool, peer-to-peer protocol, RPC server and block maker around the chainstate."""
