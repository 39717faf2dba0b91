"""The web explorer: a thin, read-only app over one node's JSON-RPC.

The node's RPC needs the cookie in its datadir, which a browser does not have. `hashgrad explorer`
holds the cookie, calls the node through the typed `NodeClient` in worker threads, and serves a page
(`static/`) plus validated JSON endpoints (`server.py`, `queries.py`) to whoever opens it.
"""
