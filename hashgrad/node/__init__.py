"""The node shell: mempool, peer-to-peer protocol, RPC server and block maker around the chainstate;
and the one client of a node (`client`, typed replies in `replies`, over the `rpc_client` transport)."""
