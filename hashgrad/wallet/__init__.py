"""The hashgrad wallet: a coldkey (funds, stake) and named hotkeys (operational identities of
miners and validators), encrypted at rest, and what it asks of a node (through
`hashgrad.node.client.NodeClient`, whose typed replies it acts on).

Library first, CLI as a thin shell (`hashgrad/cli/wallet_cmd.py`):
- `amounts`   exact coin ⇄ base-unit conversion of user-typed amounts;
- `keystore`  one secret key sealed under a password (scrypt + AES-256-GCM);
- `files`     where wallets live (`$HASHGRAD_HOME/wallets/<NAME>.json`), atomic 0600 writes, locking;
- `wallet`    the wallet document: create, import, load, unlock, add hotkeys;
- `password`  where a password comes from (file, `HASHGRAD_PASSWORD`, prompt);
- `transfer`  fee, funds check, build/sign/submit a transfer;
- `coordination` register, stake, commit and reveal weights;
- `weights`   weight parsing and salt files.
"""
