"""The `hashgrad` command: one CLI whose subcommands are thin shells over the library and the RPC."""
