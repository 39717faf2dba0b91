"""The hashgrad wallet: a coldkey (funds, stake) and named hotkeys (operational identities of
miners and validators), encrypted at rest, and the few node calls a wallet needs.

Library first, CLI as a thin shell (`hashgrad/cli/wallet_cmd.py`):
- `amounts`   exact coin ⇄ base-unit conversion of user-typed amounts;
- `keystore`  one secret key sealed under a password (scrypt + AES-256-GCM);
- `files`     where wallets live (`$HASHGRAD_HOME/wallets/<NAME>.json`), atomic 0600 writes, locking;
- `wallet`    the wallet document: create, import, load, unlock, add hotkeys;
- `password`  where a password comes from (file, `HASHGRAD_PASSWORD`, prompt);
- `transfer`  fee, funds check, build/sign/submit a transfer over the node's RPC;
- `queries`   balance and history over the node's RPC.
"""
