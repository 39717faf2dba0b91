"""Sample node replies in the shapes `rpc_incentive`/`rpc_chain` produce, for tests of what reads them
(the node client's reply checks in tests/node, the CLI's tables in tests/cli). Tests change one field
with `{**SAMPLE_..., field: value}`; these values stay as they are."""

from __future__ import annotations

ADDRESS = "rhg1q3ls4tnc2azwkr7k828xwl5s6qu7kmkn7h4qlq4sxsxqu6097yuwqugs2tx"
COLDKEY_ADDRESS = "rhg1qdnf0lg9fwrmhwgxv0h4uu97d42kky2qn67u5nxm4qcjk9pcxee4qrrphch"

SAMPLE_NEURON = {
    "uid": 0,
    "hotkey": "ab" * 32,
    "address": ADDRESS,
    "coldkey": COLDKEY_ADDRESS,
    "stake": 950_000_000,
    "validator_permit": True,
    "consensus": 0.25,
    "incentive": 0.5,
    "incentive_u16": 32767,
    "dividends": 1.0,
    "trust": 0.0,
    "validator_trust": 1.0,
    "emission": 123,
    "total_earned": 456,
    "epoch": 1,
    "last_update": 60,
    "registration_height": 6,
    "endpoint": "127.0.0.1:8000",
}

SAMPLE_JOB = {
    "job": 0,
    "name": "train-default-model",
    "kind": "train",
    "definition_hash": "c2" * 32,
    "work_spec": "{}",
    "tempo": 30,
    "windows": {"work_commit_end": 14, "work_reveal_end": 18, "weights_commit_end": 26},
    "max_uids": 64,
    "max_validators": 16,
    "immunity_period": 60,
    "burn": 10_000_000,
    "n_uids": 2,
    "registrations_this_epoch": 1,
    "last_epoch_processed": -1,
    "pool": 5 * 10**8,
    "height": 35,
    "next_block_epoch": 1,
    "next_block_offset": 5,
    "next_block_phase": "commit-work",
    "checkpoint": {"epoch": 1, "hash": "ee" * 32, "height": 31},
}
