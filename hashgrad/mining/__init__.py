"""Block making: templates from the mempool and a CPU nonce grinder (regtest/devnet, tests)."""
